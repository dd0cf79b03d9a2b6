"""SIM and device quotes and orders over the API (issue 12; S-ORD-1, S-ORD-2).

Every route but the public calculator is tenant-scoped: another tenant's quote or order answers 404
``NOT_FOUND``, like one that does not exist. The rules live in ``kaisen.goods.services``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Field, Header, Query, Router, Schema, Status
from pydantic import ConfigDict, StrictBool
from pydantic import Field as PydanticField
from pydantic.config import JsonDict

from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import Id, IsoDate
from kaisen.core.middleware import ip_from_request
from kaisen.core.schemas import SPACE, ErrorOut, one_line_pattern
from kaisen.goods import services
from kaisen.goods.catalogue import catalogue
from kaisen.goods.models import GoodsOrder, OrderStatus, Quote
from kaisen.goods.pdf import delivery_note_pdf, quote_pdf

router = Router(tags=["goods"])

Coverage = Literal["japan", "global"]
Shipping = Literal["japan", "excluded"]
Token = Annotated[str, PydanticField(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_PDF = {"responses": {200: {"description": "A PDF document.",
                            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}


class GoodsRow(Schema):
    code: str = Field(min_length=1, max_length=40,
                      description="Item code of the catalogue (`GET /goods/catalogue`); a code it has not here, "
                                  "or one without a price yet: 400 `ITEM_UNKNOWN`.",
                      json_schema_extra={"pattern": f"[^{SPACE}]"})
    quantity: int = Field(ge=0, le=999)


_SOME_ROW: JsonDict = {"type": "array", "contains": {"type": "object", "properties": {"quantity": {"minimum": 1}}}}


class GoodsQuoteIn(Schema):
    # At least one row with a quantity, in ``products`` or in ``running`` (else 400): said in the document.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["products"], "properties": {"products": _SOME_ROW}},
        {"required": ["running"], "properties": {"running": _SOME_ROW}},
    ]})

    coverage: Coverage = "japan"
    products: list[GoodsRow] = Field(default_factory=list, max_length=50,
                                description="SIMs, devices and kits (initial costs).")
    running: list[GoodsRow] = Field(default_factory=list, max_length=50,
                               description="Plans, options and services per month (running costs).")
    shipping: Shipping = Field("japan", description="`excluded` leaves shipping out of the quote.")
    nekopos: StrictBool = Field(False, description="Ship as the small parcel (only when every product fits it).")
    addressee: str = Field("", max_length=120)


class GoodsItemOut(Schema):
    code: str
    name: str
    kind: str
    coverage: str
    carrier: str
    sim_type: str
    sim_size: str
    price: Decimal = Field(description="Today's price, tax excluded, in the coverage's currency.")
    currency: str
    tax_class: str
    stock_state: str
    size_units: int
    nekopos_ok: bool
    capacity_units: int


class GoodsQuoteOut(Schema):
    id: int | None
    number: str
    issued_on: dt.date
    valid_until: dt.date
    addressee: str
    coverage: str
    currency: str
    initial_total: Decimal
    monthly_total: Decimal
    figures: dict[str, Any] = Field(description="Rows, shipping, parcel units and tax per rate of each part.")
    pdf_url: str


class GoodsEmailIn(Schema):
    emails: list[str] = Field(default_factory=list, max_length=5, description="1 to 5 addresses.")


class GoodsEmailOut(Schema):
    sent_to: list[str]


class GoodsOrderIn(Schema):
    coverage: Coverage = "japan"
    products: list[GoodsRow] = Field(default_factory=list, max_length=50)
    quote_id: Id | None = Field(None, description="Order what a valid quote of yours names, at its prices.")
    nekopos: StrictBool = False
    desired_delivery_on: IsoDate | None = Field(
        None, description="An advance order: the delivery date wanted, 14 days ahead or later.")
    recipient: str = Field(min_length=1, max_length=120)
    postal_code: str = Field(min_length=1, max_length=10)
    address: str = Field(min_length=1, max_length=200)
    phone: str = Field("", max_length=20)
    idempotency_key: str | None = Field(None, min_length=1, max_length=100,
                                        description="Or the `Idempotency-Key` header: sending it again answers "
                                                    "the first order instead of making a second one.")


class GoodsOrderItemOut(Schema):
    code: str
    name: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    currency: str
    tax_class: str
    iccids: list[str]


class GoodsOrderEventOut(Schema):
    at: dt.datetime
    from_status: str
    to_status: str
    note: str


class GoodsOrderOut(Schema):
    id: int
    number: str
    status: str
    status_label: str
    coverage: str
    currency: str
    payment_method: str
    desired_delivery_on: dt.date | None
    recipient: str
    postal_code: str
    address: str
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    tax_rates: list[dict[str, Any]]
    settled_on: dt.date | None
    carrier_name: str
    tracking_number: str
    shipped_on: dt.date | None
    delivered_on: dt.date | None
    cancellable: bool
    refunded_amount: Decimal | None = Field(None, description="A card order cancelled after the charge: the amount "
                                                              "refunded to the card.")
    refunded_on: dt.date | None = None
    quote_id: int | None
    idempotency_key: str
    created_at: dt.datetime
    items: list[GoodsOrderItemOut]


class GoodsOrderDetailOut(GoodsOrderOut):
    events: list[GoodsOrderEventOut]


class GoodsOrderQuery(Schema):
    status: Literal["received", "payment_failed", "awaiting_shipment", "shipped", "delivered",
                    "cancelled"] | None = None


#: The months a payment statement can be asked for: 2000-01 to 2100-12 (``services.statement_month``).
STATEMENT_MONTH_PATTERN = r"^(?:20[0-9]{2}|2100)-(?:0[1-9]|1[0-2])$"


class GoodsPayerIn(Schema):
    """Each on one line, up to 120 characters (the service trims spaces and refuses a control character:
    stated by the ``pattern``, issue 14)."""

    company: str = Field(min_length=1, max_length=120, json_schema_extra={"pattern": one_line_pattern(120)})
    department: str = Field("", max_length=120,
                            json_schema_extra={"pattern": one_line_pattern(120, required=False)})
    name: str = Field(min_length=1, max_length=120, json_schema_extra={"pattern": one_line_pattern(120)})


class GoodsPayerOut(Schema):
    company: str
    department: str
    name: str


assert set(GoodsOrderQuery.model_fields["status"].annotation.__args__[0].__args__) == set(OrderStatus.values)  # type: ignore[union-attr]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _rows(rows: list[GoodsRow]) -> list[dict[str, Any]]:
    return [r.dict() for r in rows]


def quote_out(q: Quote, *, public: bool = False) -> dict[str, Any]:
    url = f"/api/v1/goods/public/quotes/{q.token}/pdf" if public else f"/api/v1/goods/quotes/{q.pk}/pdf"
    return {"id": None if public else q.pk, "number": q.number, "issued_on": q.issued_on,
            "valid_until": q.valid_until, "addressee": q.addressee, "coverage": q.coverage, "currency": q.currency,
            "initial_total": q.initial_total, "monthly_total": q.monthly_total, "figures": q.figures,
            "pdf_url": url}


def order_out(o: GoodsOrder, *, events: bool = False) -> dict[str, Any]:
    out = {"id": o.pk, "number": o.number, "status": o.status, "status_label": o.get_status_display(),
           "coverage": o.coverage, "currency": o.currency, "payment_method": o.payment_method,
           "desired_delivery_on": o.desired_delivery_on, "recipient": o.recipient, "postal_code": o.postal_code,
           "address": o.address, "subtotal": o.subtotal, "tax_total": o.tax_total, "total": o.total,
           "tax_rates": o.tax_rates, "settled_on": o.settled_on, "carrier_name": o.carrier_name,
           "tracking_number": o.tracking_number, "shipped_on": o.shipped_on, "delivered_on": o.delivered_on,
           "cancellable": services.order_is_cancellable(o), "quote_id": o.quote_id,
           "refunded_amount": o.refunded_amount, "refunded_on": o.refunded_on,
           "idempotency_key": o.idempotency_key, "created_at": o.created_at,
           "items": [{"code": i.code, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price,
                      "amount": i.amount, "currency": o.currency,
                      "tax_class": i.tax_class, "iccids": list(i.iccids or [])}
                     for i in o.items.all()]}
    if events:
        out["events"] = [{"at": e.at, "from_status": e.from_status, "to_status": e.to_status, "note": e.note}
                         for e in o.events.all()]
    return out


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _catalogue(coverage: str, *, quotable_only: bool) -> list[dict[str, Any]]:
    lang = get_language() or "ja"
    currency = "USD" if coverage == "global" else "JPY"
    return [{"code": i.code, "name": i.label(lang), "kind": i.kind, "coverage": i.coverage, "carrier": i.carrier,
             "sim_type": i.sim_type, "sim_size": i.sim_size, "price": price, "currency": currency,
             "tax_class": i.tax_class, "stock_state": i.stock_state, "size_units": i.size_units,
             "nekopos_ok": i.nekopos_ok, "capacity_units": i.capacity_units}
            for i, price in catalogue(coverage=coverage, quotable_only=quotable_only)]


# --- public calculator (no login) ------------------------------------------------------------------------

@router.get("/goods/public/catalogue", auth=None, response={200: list[GoodsItemOut], 404: ErrorOut},
            summary="The quote calculator's catalogue, before login (when the operator offers it)")
def public_catalogue(request: HttpRequest, coverage: Coverage = "japan") -> list[dict[str, Any]]:
    if not services.public_calculator_enabled():
        raise DomainError(ErrorCode.NOT_FOUND, _("The quote calculator is not available."))
    return _catalogue(coverage, quotable_only=True)


@router.post("/goods/public/quotes", auth=None, response={201: GoodsQuoteOut, 400: ErrorOut, 404: ErrorOut,
                                                            422: ErrorOut},
             summary="Make a quote before login (when the operator offers it)")
def public_quote(request: HttpRequest, payload: GoodsQuoteIn) -> Status[dict[str, Any]]:
    quote = services.quote_save(coverage=payload.coverage, products=_rows(payload.products),
                                running=_rows(payload.running), shipping=payload.shipping, nekopos=payload.nekopos,
                                addressee=payload.addressee)
    return Status(201, quote_out(quote, public=True))


@router.get("/goods/public/quotes/{token}/pdf", auth=None, response={200: None, 404: ErrorOut},
            summary="A public quote as PDF (見積書)", openapi_extra=_PDF)
def public_quote_pdf(request: HttpRequest, token: Token) -> HttpResponse:
    quote = services.quote_by_token(token=token)
    return _pdf(quote_pdf(quote=quote), f"quote_{quote.number}.pdf")


@router.post("/goods/public/quotes/{token}/email", auth=None,
             response={200: GoodsEmailOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut},
             summary="Email a public quote to up to 5 addresses (only the quote is sent; limited per client "
                     "address and per recipient: RATE_LIMITED, 429)")
def public_quote_email(request: HttpRequest, token: Token, payload: GoodsEmailIn) -> dict[str, Any]:
    return {"sent_to": services.public_quote_email(token=token, emails=payload.emails,
                                                   ip=ip_from_request(request))}


# --- portal --------------------------------------------------------------------------------------------

@router.get("/goods/catalogue", response={200: list[GoodsItemOut], 403: ErrorOut, 422: ErrorOut},
            summary="Products, shipping and running-cost items with today's price")
def goods_catalogue(request: HttpRequest, coverage: Coverage = "japan") -> list[dict[str, Any]]:
    return _catalogue(coverage, quotable_only=False)


@router.post("/goods/quotes", response={201: GoodsQuoteOut, 400: ErrorOut, 403: ErrorOut, 422: ErrorOut},
             summary="Make and save a quote (initial and running costs, tax per rate)")
def quote_create(request: HttpRequest, payload: GoodsQuoteIn) -> Status[dict[str, Any]]:
    quote = services.quote_save(user=_user(request), coverage=payload.coverage, products=_rows(payload.products),
                                running=_rows(payload.running), shipping=payload.shipping, nekopos=payload.nekopos,
                                addressee=payload.addressee)
    return Status(201, quote_out(quote))


@router.get("/goods/quotes", response={200: list[GoodsQuoteOut], 403: ErrorOut}, summary="Your saved quotes")
def quotes_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [quote_out(q) for q in services.quote_list(user=_user(request))[:200]]


@router.get("/goods/quotes/{int:quote_id}", response={200: GoodsQuoteOut, 403: ErrorOut, 404: ErrorOut},
            summary="One saved quote")
def quote_detail(request: HttpRequest, quote_id: Id) -> dict[str, Any]:
    return quote_out(services.quote_get(user=_user(request), quote_id=quote_id))


@router.get("/goods/quotes/{int:quote_id}/pdf", response={200: None, 403: ErrorOut, 404: ErrorOut},
            summary="A quote as PDF (見積書)", openapi_extra=_PDF)
def quote_pdf_get(request: HttpRequest, quote_id: Id) -> HttpResponse:
    quote = services.quote_get(user=_user(request), quote_id=quote_id)
    return _pdf(quote_pdf(quote=quote), f"quote_{quote.number}.pdf")


@router.post("/goods/quotes/{int:quote_id}/email",
             response={200: GoodsEmailOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
             summary="Email a quote to up to 5 addresses")
def quote_email(request: HttpRequest, quote_id: Id, payload: GoodsEmailIn) -> dict[str, Any]:
    return {"sent_to": services.quote_email(user=_user(request), quote_id=quote_id, emails=payload.emails)}


@router.post("/goods/orders",
             response={200: GoodsOrderOut, 201: GoodsOrderOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                       409: ErrorOut, 422: ErrorOut},
             summary="Order SIMs and devices (idempotent); paid by the coverage's payment method")
def order_create(request: HttpRequest, payload: GoodsOrderIn,
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Status[dict[str, Any]]:
    """201 with the new order; 200 with the first order when the same idempotency key comes again with the
    same request; 409 ``IDEMPOTENCY_KEY_REUSED`` with another request; 409 ``NO_PAYMENT_METHOD`` when the
    coverage has no payment method; 409 ``ITEM_NOT_AVAILABLE`` for an item out of stock; 400
    ``SHIPMENT_LIMIT_EXCEEDED`` when the products do not fit one parcel."""
    key = (payload.idempotency_key or "").strip()
    header = (idempotency_key or "").strip()
    if key and header and key != header:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The Idempotency-Key header and the idempotency_key field "
                                                        "differ."), field="idempotency_key")
    order, replayed = services.order_create(
        user=_user(request), idempotency_key=key or header, coverage=payload.coverage,
        products=_rows(payload.products), nekopos=payload.nekopos, desired_delivery_on=payload.desired_delivery_on,
        quote_id=payload.quote_id, recipient=payload.recipient, postal_code=payload.postal_code,
        address=payload.address, phone=payload.phone)
    return Status(200 if replayed else 201, order_out(order))


@router.get("/goods/orders", response={200: list[GoodsOrderOut], 403: ErrorOut, 422: ErrorOut},
            summary="Your SIM and device orders, newest first")
def orders_list(request: HttpRequest, query: Query[GoodsOrderQuery]) -> list[dict[str, Any]]:
    qs = services.order_list(user=_user(request), status=query.status).prefetch_related("items")
    return [order_out(o) for o in qs[:200]]


@router.get("/goods/orders/{int:goods_order_id}", response={200: GoodsOrderDetailOut, 403: ErrorOut, 404: ErrorOut},
            summary="One order with its items, tracking number and history")
def order_detail(request: HttpRequest, goods_order_id: Id) -> dict[str, Any]:
    return order_out(services.order_get(user=_user(request), order_id=goods_order_id), events=True)


@router.post("/goods/orders/{int:goods_order_id}/cancel", response={200: GoodsOrderOut, 403: ErrorOut, 404: ErrorOut,
                                                              409: ErrorOut},
             summary="Cancel an order before shipment (a card already charged is refunded in full; "
                     "REFUND_FAILED when the refund is refused)")
def order_cancel(request: HttpRequest, goods_order_id: Id) -> dict[str, Any]:
    return order_out(services.order_cancel(user=_user(request), order_id=goods_order_id))


@router.post("/goods/orders/{int:goods_order_id}/retry-payment",
             response={200: GoodsOrderOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
             summary="Pay an order on hold again after updating the card")
def order_retry(request: HttpRequest, goods_order_id: Id) -> dict[str, Any]:
    return order_out(services.order_retry_payment(user=_user(request), order_id=goods_order_id))


@router.get("/goods/orders/{int:goods_order_id}/delivery-note", response={200: None, 403: ErrorOut, 404: ErrorOut,
                                                                    409: ErrorOut},
            summary="The delivery note (納品書) of a shipped order, as PDF", openapi_extra=_PDF)
def order_delivery_note(request: HttpRequest, goods_order_id: Id) -> HttpResponse:
    order = services.order_get(user=_user(request), order_id=goods_order_id)
    if order.shipped_on is None:
        raise DomainError(ErrorCode.ORDER_STATE_INVALID, _("The delivery note exists once the order has shipped."))
    return _pdf(delivery_note_pdf(order=order), f"delivery_note_{order.number}.pdf")


@router.get("/goods/payment-statement/payer", response={200: GoodsPayerOut, 403: ErrorOut, 404: ErrorOut},
            summary="The payer printed on the payment statement")
def payer_get(request: HttpRequest) -> Any:
    payer = services.payer_get(user=_user(request))
    if payer is None:
        raise DomainError(ErrorCode.NOT_FOUND, _("No payer has been entered yet."))
    return payer


@router.put("/goods/payment-statement/payer", response={200: GoodsPayerOut, 400: ErrorOut, 403: ErrorOut,
                                                        422: ErrorOut},
            summary="Enter the payer (company, department, name) printed on the payment statement")
def payer_put(request: HttpRequest, payload: GoodsPayerIn) -> Any:
    return services.payer_set(user=_user(request), **payload.dict())


@router.get("/goods/payment-statement", response={200: None, 400: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            summary="The payment statement (請求明細書) of a month: purchases and usage, as PDF",
            openapi_extra=_PDF)
def payment_statement(request: HttpRequest, month: str = Query(..., pattern=STATEMENT_MONTH_PATTERN,
                                                                description="YYYY-MM, up to this month (a "
                                                                            "later one: 400 STATEMENT_NOT_YET_"
                                                                            "AVAILABLE); the payer must be "
                                                                            "entered first (400 PAYER_REQUIRED)."),
                      coverage: Coverage = "japan") -> HttpResponse:
    data, name = services.payment_statement(user=_user(request), coverage=coverage, month=month)
    return _pdf(data, name)
