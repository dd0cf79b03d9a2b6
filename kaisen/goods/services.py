"""Quotes and orders of SIMs and devices (issue 12; S-ORD-1, S-ORD-2, seed 001 §5).

Customer side: ``quote_save`` / ``quote_email`` (S-ORD-1), ``order_create`` / ``order_cancel`` /
``order_retry_payment`` (S-ORD-2). Staff side (back office and ``kaisen admin goods``): ``due_orders``,
``order_settle`` (the payment just before shipment, seed §5.3), ``order_ship``, ``order_deliver``.

Statuses: received → awaiting shipment (paid: card charged, or added to the month's invoice) → shipped →
delivered; a failed card charge holds the order (``payment_failed``) and mails the customer, who may retry
after updating the card. An order is cancelled before shipment: while received or on hold, and while awaiting
shipment (an invoice order leaves the invoice; a card already charged is refunded in full first, and the
order stays as it was when the provider refuses the refund).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.services import authorize
from kaisen.audit.services import audit_record
from kaisen.carriers.models import Coverage
from kaisen.controls import functions as fn
from kaisen.controls import services as controls
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.numbers import iccid_normalize
from kaisen.events import catalogue as event_types
from kaisen.events.services import event_emit
from kaisen.goods.calc import SHIP_JAPAN, Calculation, calculate
from kaisen.goods.models import (
    ORDERABLE_STOCK,
    GoodsOrder,
    GoodsOrderEvent,
    GoodsOrderItem,
    ItemKind,
    OrderStatus,
    PaymentKind,
    Quote,
    StatementPayer,
)
from kaisen.lines.history import line_history_open
from kaisen.lines.models import Line, LinePeriodReason, LineStatus
from kaisen.notifications.services import outbox_add
from kaisen.payments.models import PaymentMethodKind, PaymentSetting
from kaisen.payments.provider import get_provider
from kaisen.payments.services import card_usable
from kaisen.tenancy.models import Tenant

QUOTE_VALID_DAYS = 30
ADVANCE_MIN_DAYS = 14  # seed 001 §5.2.3: a delivery date 14 days ahead or later
ADVANCE_MAX_DAYS = 365
#: An advance order is settled and shipped this many days before the desired delivery date.
SHIP_LEAD_DAYS = 3
MAX_EMAILS = 5
_POSTAL = re.compile(r"^(\d{3})-?(\d{4})$")
_FULLWIDTH = str.maketrans("０１２３４５６７８９－", "0123456789-")


# --- helpers ----------------------------------------------------------------------------------------------

def _tenant(user: Any) -> Tenant:
    tenant = getattr(user, "tenant", None)
    if tenant is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    return tenant


def _coverage(tenant: Tenant, coverage: str) -> str:
    if coverage not in Coverage.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Your account has no such coverage."), field="coverage")
    if coverage not in tenant.coverages:
        # A coverage the document lists but the contract does not include (stored data): 403, as every
        # function outside the contract answers (issue 14: was a 400 ``VALIDATION_ERROR``).
        raise DomainError(ErrorCode.NOT_IN_CONTRACT, _("Your account has no such coverage."), field="coverage")
    return coverage


def _number(prefix: str) -> str:
    return f"{prefix}{clock.today_jst():%Y%m%d}-{secrets.token_hex(3).upper()}"


def public_calculator_enabled() -> bool:
    """The operator switches the public (before login) calculator on and off without a restart (operator-wide
    switch ``public_quote_calculator``; its default is ``KAISEN_PUBLIC_QUOTE_CALCULATOR``)."""
    return controls.operator_switch_enabled(fn.PUBLIC_QUOTE_CALCULATOR)


def calculator_refusal(tenant: Tenant) -> DomainError | None:
    """``NOT_IN_CONTRACT`` when the operator switched the quote calculator off for the tenant."""
    return controls.switch_refusal(tenant.pk, fn.SWITCH_QUOTE_CALCULATOR)


def _calculator_allowed(tenant: Tenant) -> None:
    refusal = calculator_refusal(tenant)
    if refusal is not None:
        raise refusal


def _event(order: GoodsOrder, before: str, actor: str, note: str = "") -> None:
    GoodsOrderEvent.objects.create(order=order, at=clock.now(), from_status=before, to_status=order.status,
                                   actor=actor[:150], note=note[:300])


def _actor(user: Any, default: str) -> str:
    return getattr(user, "audit_label", "") if getattr(user, "pk", None) else default


# --- mails ------------------------------------------------------------------------------------------------

def _order_mail(order: GoodsOrder, topic: str, **extra: Any) -> None:
    """The order's mail to the tenant's contact address, in Japanese (an English summary at the end), queued
    in the step's transaction; one per order and topic (a repeated step mails once)."""
    tenant = order.tenant
    to = [tenant.notification_email or tenant.contact_email]
    with translation.override("ja"):
        body = render_to_string(f"emails/goods/{topic}.txt", {"order": order, "tenant": tenant,
                                                              "items": list(order.items.all()), **extra})
    subject, _sep, text = body.partition("\n")
    outbox_add(tenant=tenant, order=None, topic=f"goods.{topic}.{order.pk}", to=to, subject=subject.strip(),
               body=text.lstrip("\n"))


# --- quotes (S-ORD-1) ---------------------------------------------------------------------------------------

def quote_calculate(*, coverage: str, products: list[dict[str, Any]] | None = None,
                    running: list[dict[str, Any]] | None = None, shipping: str = SHIP_JAPAN,
                    nekopos: bool = False) -> Calculation:
    return calculate(coverage=coverage, products=products, running=running, shipping=shipping, nekopos=nekopos)


@transaction.atomic
def quote_save(*, user: Any = None, coverage: str = Coverage.JAPAN, products: list[dict[str, Any]] | None = None,
               running: list[dict[str, Any]] | None = None, shipping: str = SHIP_JAPAN, nekopos: bool = False,
               addressee: str = "") -> Quote:
    """Save a quote with its number and valid-until date. ``user`` None: the public calculator (refused with
    NOT_FOUND when the operator switched it off); the quote then belongs to no tenant."""
    tenant = None
    if user is None:
        if not public_calculator_enabled():
            raise NotFound(_("The quote calculator is not available."))
    else:
        authorize(user=user, action=actions.GOODS_QUOTE)
        tenant = _tenant(user)
        _calculator_allowed(tenant)
        _coverage(tenant, coverage)
    addressee = (addressee or "").strip()
    if len(addressee) > 120:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Up to 120 characters."), field="addressee")
    calc = quote_calculate(coverage=coverage, products=products, running=running, shipping=shipping,
                           nekopos=nekopos)
    today = clock.today_jst()
    quote = Quote.objects.create(
        number=_number("Q"), token=secrets.token_urlsafe(32), tenant=tenant,
        created_by=user if getattr(user, "pk", None) else None, coverage=coverage, currency=calc.currency,
        addressee=addressee or (tenant.legal_name if tenant else ""),
        request={"products": [{"code": r.item.code, "quantity": r.quantity} for r in calc.products],
                 "running": [{"code": r.item.code, "quantity": r.quantity} for r in calc.running],
                 "shipping": shipping, "nekopos": bool(nekopos)},
        figures=calc.as_dict(), initial_total=calc.initial_total, monthly_total=calc.monthly_total,
        issued_on=today, valid_until=today + dt.timedelta(days=QUOTE_VALID_DAYS))
    audit_record(action="goods.quote.create", tenant=tenant, user=user, actor=None if user else "public calculator",
                 target=quote, changes={"initial_total": [None, str(quote.initial_total)],
                                        "monthly_total": [None, str(quote.monthly_total)]})
    return quote


def quote_list(*, user: Any) -> QuerySet[Quote]:
    authorize(user=user, action=actions.GOODS_QUOTE)
    return Quote.objects.filter(tenant=_tenant(user)).order_by("-created_at", "-id")


def quote_get(*, user: Any, quote_id: int) -> Quote:
    """A quote of the user's tenant; any other is NOT_FOUND."""
    authorize(user=user, action=actions.GOODS_QUOTE)
    quote = Quote.objects.filter(tenant=_tenant(user), pk=quote_id).first()
    if quote is None:
        raise NotFound(_("No such quote."))
    return quote


def quote_by_token(*, token: str) -> Quote:
    """A public-calculator quote, by the unguessable token of its link."""
    if not public_calculator_enabled():
        raise NotFound(_("The quote calculator is not available."))
    quote = Quote.objects.filter(token=token, tenant__isnull=True).first() if token else None
    if quote is None:
        raise NotFound(_("No such quote."))
    return quote


def _emails(raw: list[str] | str) -> list[str]:
    items = re.split(r"[\s,;]+", raw) if isinstance(raw, str) else list(raw or [])
    out: list[str] = []
    for item in items:
        email = str(item).strip()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(email)s' is not an email address.")
                              % {"email": email[:100]}, field="emails") from None
        if email.lower() not in [e.lower() for e in out]:
            out.append(email)
    if not out:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give at least one email address."), field="emails")
    if len(out) > MAX_EMAILS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Up to %(max)s email addresses.") % {"max": MAX_EMAILS},
                          field="emails")
    return out


@transaction.atomic
def quote_email(*, user: Any, quote_id: int, emails: list[str] | str) -> list[str]:
    """Mail the quote (its figures, number and valid-until date) to up to 5 addresses (S-ORD-1)."""
    quote = quote_get(user=user, quote_id=quote_id)
    _calculator_allowed(_tenant(user))
    to = _emails(emails)
    with translation.override("ja"):
        body = render_to_string("emails/goods/quote.txt", {"quote": quote, "f": quote.figures})
    subject, _sep, text = body.partition("\n")
    outbox_add(tenant=quote.tenant, order=None, topic="goods.quote", to=to, subject=subject.strip(),
               body=text.lstrip("\n"))
    audit_record(action="goods.quote.email", tenant=quote.tenant, user=user, target=quote,
                 changes={"to": [None, to]})
    return to


#: The public page's mails: at most this many per client address, and per recipient address, in a window of
#: the failed-login limiter's longest window (``kaisen.security.throttle``, 30 minutes by default), whose
#: counters and hourly purge they share.
PUBLIC_MAILS_PER_ADDRESS = 5
PUBLIC_MAILS_PER_RECIPIENT = 2


def _public_mail_keys(ip: str | None, to: list[str]) -> dict[str, tuple[str, Any]]:
    from kaisen.security import throttle

    window = max(throttle.account_rule().window, throttle.address_rule().window)
    keys: dict[str, tuple[str, Any]] = {
        "client": (f"goods-quote-mail:ip:{ip or '-'}"[:200],
                   throttle.Rule(PUBLIC_MAILS_PER_ADDRESS, window, window))}
    for n, email in enumerate(to):
        keys[f"recipient{n}"] = (f"goods-quote-mail:to:{email.lower()}"[:200],
                                 throttle.Rule(PUBLIC_MAILS_PER_RECIPIENT, window, window))
    return keys


def public_quote_email(*, token: str, emails: list[str] | str, ip: str | None) -> list[str]:
    """Mail a public-calculator quote to up to 5 addresses. Only the quote itself is sent (its number, dates
    and figures; never the addressee or any other text the visitor typed). Limited per client address and
    per recipient (``RATE_LIMITED``, 429); a refused request sends nothing."""
    from kaisen.security import throttle

    quote = quote_by_token(token=token)
    to = _emails(emails)
    keys = _public_mail_keys(ip, to)
    refused = throttle.throttle_reserve(keys)
    if refused is not None:
        who = (_("from your address") if refused == "client"
               else _("to %(email)s") % {"email": to[int(refused.removeprefix("recipient"))]})
        raise DomainError(ErrorCode.RATE_LIMITED, _(
            "Too many quotes were mailed %(who)s. Please try again later.") % {"who": who},
            field="emails", details={"limit": "client" if refused == "client" else "recipient"})
    with transaction.atomic():
        with translation.override("ja"):
            body = render_to_string("emails/goods/quote_public.txt", {"quote": quote, "f": quote.figures})
        subject, _sep, text = body.partition("\n")
        outbox_add(tenant=None, order=None, topic="goods.quote.public", to=to, subject=subject.strip(),
                   body=text.lstrip("\n"))
        audit_record(action="goods.quote.email", tenant=None, actor="public calculator", ip_address=ip,
                     target=quote, changes={"to": [None, to]})
    return to


# --- orders (S-ORD-2) --------------------------------------------------------------------------------------

def payment_kind_for(*, tenant: Tenant, coverage: str) -> str | None:
    """The coverage's payment method as an order uses it: a usable card, or an invoice-type method (invoice,
    bank debit, convenience-store slip: the goods go on that month's invoice). None when none is set."""
    setting = PaymentSetting.objects.filter(tenant=tenant, coverage=coverage).first()
    if setting is None or not setting.method:
        return None
    if setting.method == PaymentMethodKind.CARD:
        return PaymentKind.CARD if card_usable(setting) else None
    return PaymentKind.INVOICE


def _postal(raw: str) -> str:
    m = _POSTAL.match((raw or "").strip().translate(_FULLWIDTH).replace("〒", ""))
    if not m:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("A postal code is 3 digits, a hyphen and 4 digits (123-4567)."), field="postal_code")
    return f"{m.group(1)}-{m.group(2)}"


def _text(value: Any, field: str, *, max_length: int, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("This field is required."), field=field)
    if len(text) > max_length or any(ord(c) < 32 for c in text):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Up to %(max)s characters on one line.")
                          % {"max": max_length}, field=field)
    return text


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def order_preview(*, user: Any, coverage: str, products: list[dict[str, Any]] | None, nekopos: bool = False,
                  desired_delivery_on: dt.date | None = None, quote_id: int | None = None
                  ) -> tuple[Calculation, str, Quote | None]:
    """Every check of ``order_create`` except the address, nothing written: the figures and the payment
    method the order would use."""
    authorize(user=user, action=actions.GOODS_ORDER)
    tenant = _tenant(user)
    quote = None
    day = None
    if quote_id is not None:
        quote = _quote_for_order(user, quote_id)
        if quote.valid_until < clock.today_jst():
            raise DomainError(ErrorCode.QUOTE_EXPIRED)
        coverage = quote.coverage
        products = quote.request.get("products") or []
        nekopos = bool(quote.request.get("nekopos"))
        day = quote.issued_on  # a valid quote's prices hold
    _coverage(tenant, coverage)
    method = payment_kind_for(tenant=tenant, coverage=coverage)
    if method is None:
        raise DomainError(ErrorCode.NO_PAYMENT_METHOD)
    if not products:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose at least one product."), field="products")
    calc = calculate(coverage=coverage, products=products, shipping=SHIP_JAPAN, nekopos=nekopos, orderable=True,
                     day=day)
    for row in calc.products:
        if row.item.stock_state not in ORDERABLE_STOCK:
            raise DomainError(ErrorCode.ITEM_NOT_AVAILABLE, _("%(name)s is %(state)s and cannot be ordered now.")
                              % {"name": row.item.label(translation.get_language() or "ja"),
                                 "state": row.item.get_stock_state_display()}, field="products")
    if desired_delivery_on is not None:
        earliest = clock.today_jst() + dt.timedelta(days=ADVANCE_MIN_DAYS)
        if not earliest <= desired_delivery_on <= clock.today_jst() + dt.timedelta(days=ADVANCE_MAX_DAYS):
            raise DomainError(ErrorCode.INVALID_DATE, _(
                "An advance order's delivery date is from %(earliest)s (14 days ahead) to a year ahead.")
                % {"earliest": earliest}, field="desired_delivery_on")
    return calc, method, quote


def _quote_for_order(user: Any, quote_id: int) -> Quote:
    quote = Quote.objects.filter(tenant=_tenant(user), pk=quote_id).first()
    if quote is None:
        raise NotFound(_("No such quote."))
    return quote


def order_create(*, user: Any, idempotency_key: str, coverage: str = Coverage.JAPAN,
                 products: list[dict[str, Any]] | None = None, nekopos: bool = False,
                 desired_delivery_on: dt.date | None = None, quote_id: int | None = None, recipient: str = "",
                 postal_code: str = "", address: str = "", phone: str = "") -> tuple[GoodsOrder, bool]:
    """Place an order. Returns ``(order, replayed)``: the same idempotency key with the same request answers
    the first order (``replayed``); with another request ``IDEMPOTENCY_KEY_REUSED``. Refused: no payment
    method (``NO_PAYMENT_METHOD``), an item out of stock, more than a parcel, an advance date under 14 days."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give an idempotency key of 1 to 100 characters."),
                          field="idempotency_key")
    authorize(user=user, action=actions.GOODS_ORDER)
    tenant = _tenant(user)
    request = {"coverage": coverage, "products": products, "nekopos": bool(nekopos),
               "desired_delivery_on": desired_delivery_on, "quote_id": quote_id, "recipient": recipient,
               "postal_code": postal_code, "address": address, "phone": phone}
    digest = _hash(request)
    existing = GoodsOrder.objects.filter(tenant=tenant, idempotency_key=key).first()
    if existing is not None:
        if existing.request_hash != digest:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, _(
                "This idempotency key was used for another order. Use a new key for a new order."),
                field="idempotency_key")
        return existing, True
    recipient = _text(recipient, "recipient", max_length=120)
    address = _text(address, "address", max_length=200)
    phone = _text(phone, "phone", max_length=20, required=False)
    postal = _postal(postal_code)
    calc, method, quote = order_preview(user=user, coverage=coverage, products=products, nekopos=nekopos,
                                        desired_delivery_on=desired_delivery_on, quote_id=quote_id)
    summary = calc.initial_tax
    assert summary is not None
    try:
        with transaction.atomic():
            order = GoodsOrder.objects.create(
                number=_number("G"), tenant=tenant, created_by=user, quote=quote, idempotency_key=key,
                request_hash=digest, coverage=calc.coverage, currency=calc.currency, payment_method=method,
                desired_delivery_on=desired_delivery_on, shipping_code=calc.method.code if calc.method else "",
                recipient=recipient, postal_code=postal, address=address, phone=phone,
                subtotal=summary.taxable_total + summary.exempt_total, tax_total=summary.tax_total,
                total=summary.total,
                tax_rates=[{"tax_class": r.tax_class, "rate": str(r.rate), "base": str(r.base), "tax": str(r.tax)}
                           for r in summary.rates])
            lang = translation.get_language() or "ja"
            GoodsOrderItem.objects.bulk_create([
                GoodsOrderItem(order=order, tenant=tenant, item=r.item, code=r.item.code, name=r.item.label(lang),
                               quantity=r.quantity, unit_price=r.unit_price, amount=r.amount,
                               tax_class=r.item.tax_class) for r in calc.initial_rows])
            _event(order, "", _actor(user, "customer"))
            audit_record(action="goods.order.create", tenant=tenant, user=user, target=order,
                         changes={"total": [None, str(order.total)], "payment_method": [None, method],
                                  "desired_delivery_on": [None, str(desired_delivery_on or "")],
                                  "items": [None, [f"{r.item.code}×{r.quantity}" for r in calc.products]]})
            _order_mail(order, "received")
    except IntegrityError:  # the same key, concurrently: the other request made the order
        existing = GoodsOrder.objects.filter(tenant=tenant, idempotency_key=key).first()
        if existing is None or existing.request_hash != digest:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, field="idempotency_key") from None
        return existing, True
    return order, False


def order_list(*, user: Any, status: str | None = None) -> QuerySet[GoodsOrder]:
    authorize(user=user, action=actions.GOODS_READ)
    qs = GoodsOrder.objects.filter(tenant=_tenant(user))
    if status:
        if status not in OrderStatus.values:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown status %(status)s.") % {"status": status},
                              field="status")
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def order_get(*, user: Any, order_id: int) -> GoodsOrder:
    """An order of the user's tenant; any other is NOT_FOUND."""
    authorize(user=user, action=actions.GOODS_READ)
    order = GoodsOrder.objects.filter(tenant=_tenant(user), pk=order_id).first()
    if order is None:
        raise NotFound(_("No such order."))
    return order


def order_is_cancellable(order: GoodsOrder) -> bool:
    """Before shipment: received, on hold, or paid and awaiting shipment (a charged card is refunded)."""
    return order.status in (OrderStatus.RECEIVED, OrderStatus.PAYMENT_FAILED, OrderStatus.AWAITING_SHIPMENT)


def order_needs_refund(order: GoodsOrder) -> bool:
    """A card order whose card was charged (settled, not shipped): cancelling it gives the charge back."""
    return (order.status == OrderStatus.AWAITING_SHIPMENT and order.payment_method == PaymentKind.CARD
            and bool(order.charge_id))


def refund_key_for(order: GoodsOrder) -> str:
    return f"kaisen-goods-refund-{order.pk}"


def order_cancel(*, user: Any, order_id: int, reason: str = "") -> GoodsOrder:
    """Cancel an order before shipment. A card already charged is refunded in full first (idempotency key
    ``kaisen-goods-refund-<id>``, so a retry after a lost answer never refunds twice); when the provider
    refuses the refund, the order stays as it was (``REFUND_FAILED``, the refusal audited) and nothing else
    is written."""
    authorize(user=user, action=actions.GOODS_ORDER)
    tenant = _tenant(user)
    refused: DomainError | None = None
    with transaction.atomic():
        order = GoodsOrder.objects.select_for_update().filter(tenant=tenant, pk=order_id).first()
        if order is None:
            raise NotFound(_("No such order."))
        if not order_is_cancellable(order):
            raise DomainError(ErrorCode.ORDER_NOT_CANCELLABLE, _(
                "This order is %(status)s: it can no longer be cancelled here. Contact support.")
                % {"status": order.get_status_display()})
        before = order.status
        actor = _actor(user, "customer")
        fields = ["status", "updated_at"]
        if order_needs_refund(order):
            today = clock.today_jst()
            result = get_provider().refund(charge_id=order.charge_id, amount=order.total, currency=order.currency,
                                           idempotency_key=refund_key_for(order), today=today)
            audit_record(action="goods.order.refund", tenant=tenant, user=user, target=order,
                         success=result.succeeded,
                         changes={"amount": [None, str(order.total)], "charge_id": [None, order.charge_id],
                                  "refund_id": [None, result.refund_id if result.succeeded else None],
                                  "failure_code": [None, result.failure_code or None]})
            if not result.succeeded:
                refused = DomainError(ErrorCode.REFUND_FAILED, _(
                    "The card payment of order %(number)s could not be refunded (%(code)s), so the order was not "
                    "cancelled. Contact support.") % {"number": order.number, "code": result.failure_code},
                    details={"failure_code": result.failure_code})
            else:
                order.refund_id, order.refunded_amount, order.refunded_on = result.refund_id, order.total, today
                fields += ["refund_id", "refunded_amount", "refunded_on"]
        if refused is None:
            order.status = OrderStatus.CANCELLED
            order.save(update_fields=fields)
            _event(order, before, actor, reason)
            changes: dict[str, Any] = {"status": [before, order.status]}
            if order.refund_id:
                changes["refunded_amount"] = [None, str(order.refunded_amount)]
            audit_record(action="goods.order.cancel", tenant=tenant, user=user, target=order, changes=changes,
                         reason=reason)
            _order_mail(order, "cancelled")
    if refused is not None:  # only the refused refund's audit record was written
        raise refused
    return order


# --- fulfilment (staff) -------------------------------------------------------------------------------------

def due_orders(*, today: dt.date | None = None) -> QuerySet[GoodsOrder]:
    """Orders to settle and ship now: received, and either not advance orders or within ``SHIP_LEAD_DAYS`` of
    the desired delivery date."""
    from django.db.models import Q

    today = today or clock.today_jst()
    return (GoodsOrder.objects.filter(status=OrderStatus.RECEIVED)
            .filter(Q(desired_delivery_on__isnull=True)
                    | Q(desired_delivery_on__lte=today + dt.timedelta(days=SHIP_LEAD_DAYS)))
            .select_related("tenant").order_by("created_at", "id"))


def idempotency_key_for(order: GoodsOrder) -> str:
    return f"kaisen-goods-{order.pk}"


def _settle_locked(order: GoodsOrder, *, actor: str, user: Any = None) -> GoodsOrder:
    """Take the payment just before shipment (seed 001 §5.3). Card: charged now through the payment provider
    (simulator adapter); a failure holds the order and mails the customer. Invoice: the order joins this
    month's invoice (``kaisen.goods.billing``)."""
    if order.status not in (OrderStatus.RECEIVED, OrderStatus.PAYMENT_FAILED):
        raise DomainError(ErrorCode.ORDER_STATE_INVALID, _("Order %(number)s is %(status)s: it is not waiting for "
                                                           "payment.") % {"number": order.number,
                                                                          "status": order.get_status_display()})
    before = order.status
    today = clock.today_jst()
    if order.payment_method == PaymentKind.CARD:
        setting = PaymentSetting.objects.filter(tenant=order.tenant, coverage=order.coverage).first()
        if setting is None or setting.method != PaymentMethodKind.CARD or not card_usable(setting):
            ok, failure, charge_id = False, "no_card", ""
        else:
            result = get_provider().charge(token=setting.card_token, amount=order.total, currency=order.currency,
                                           idempotency_key=idempotency_key_for(order), today=today)
            ok, failure, charge_id = result.succeeded, result.failure_code, result.charge_id
        order.charge_id = charge_id if ok else order.charge_id
        order.failure_code = "" if ok else failure
    else:
        ok = True
    order.status = OrderStatus.AWAITING_SHIPMENT if ok else OrderStatus.PAYMENT_FAILED
    if ok:
        order.settled_on = today
    order.save(update_fields=["status", "settled_on", "charge_id", "failure_code", "updated_at"])
    _event(order, before, actor, "" if ok else order.failure_code)
    audit_record(action="goods.order.settle", tenant=order.tenant, user=user, actor=None if user else actor,
                 target=order, success=ok,
                 changes={"status": [before, order.status], "payment_method": [None, order.payment_method],
                          "failure_code": [None, order.failure_code or None]})
    if not ok:
        _order_mail(order, "payment_failed")
    return order


def order_settle(*, order_id: int, staff: Any = None, actor: str = "operator") -> GoodsOrder:
    with transaction.atomic():
        order = GoodsOrder.objects.select_for_update().select_related("tenant").filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("No such order."))
        return _settle_locked(order, actor=_actor(staff, actor), user=staff)


def order_retry_payment(*, user: Any, order_id: int) -> GoodsOrder:
    """The customer retries the card charge of an order on hold, after updating the card (as for bills)."""
    authorize(user=user, action=actions.GOODS_ORDER)
    tenant = _tenant(user)
    with transaction.atomic():
        order = GoodsOrder.objects.select_for_update().select_related("tenant").filter(tenant=tenant,
                                                                                       pk=order_id).first()
        if order is None:
            raise NotFound(_("No such order."))
        if order.status != OrderStatus.PAYMENT_FAILED:
            raise DomainError(ErrorCode.ORDER_STATE_INVALID, _("Only an order on hold after a failed payment can be "
                                                               "paid again."))
        return _settle_locked(order, actor=_actor(user, "customer"), user=user)


def settle_due(*, today: dt.date | None = None, limit: int = 500) -> dict[str, int]:
    """Settle every due order (the staff's run before packing)."""
    counts = {"settled": 0, "held": 0, "skipped": 0}
    for order in list(due_orders(today=today)[:limit]):
        try:
            done = order_settle(order_id=order.pk, actor="kaisen admin goods")
        except DomainError:
            counts["skipped"] += 1
            continue
        counts["settled" if done.status == OrderStatus.AWAITING_SHIPMENT else "held"] += 1
    return counts


def _iccids(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = re.split(r"[\s,;]+", raw)
    return [iccid_normalize(str(x)) for x in (raw or []) if str(x).strip()]


def order_ship(*, order_id: int, carrier_name: str, tracking_number: str, iccids: Any = None,
               staff: Any = None, actor: str = "operator") -> GoodsOrder:
    """Record the shipment: delivery company, tracking number and the ICCIDs of the SIMs in the parcel, in the
    order of the SIM items. Each SIM becomes a line of the tenant, not activated (never used, so SIM transfer
    and activation work on it, S-ACC-4)."""
    carrier_name = _text(carrier_name, "carrier_name", max_length=60)
    tracking = _text(tracking_number, "tracking_number", max_length=40)
    if not re.fullmatch(r"[A-Za-z0-9-]+", tracking):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("A tracking number is letters, digits and hyphens."),
                          field="tracking_number")
    numbers = _iccids(iccids)
    if len(set(numbers)) != len(numbers):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("An ICCID is given twice."), field="iccids")
    with transaction.atomic():
        order = GoodsOrder.objects.select_for_update().select_related("tenant").filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("No such order."))
        if order.status != OrderStatus.AWAITING_SHIPMENT:
            raise DomainError(ErrorCode.ORDER_STATE_INVALID, _(
                "Order %(number)s is %(status)s: only a paid order awaiting shipment ships.")
                % {"number": order.number, "status": order.get_status_display()})
        sim_items = [i for i in order.items.select_related("item", "item__plan") if i.item.kind == ItemKind.SIM]
        wanted = sum(i.quantity for i in sim_items)
        if len(numbers) != wanted:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _(
                "The parcel holds %(wanted)s SIMs: give exactly %(wanted)s ICCIDs (%(given)s given).")
                % {"wanted": wanted, "given": len(numbers)}, field="iccids")
        taken = list(Line.objects.filter(iccid__in=numbers).values_list("iccid", flat=True))
        if taken:
            raise DomainError(ErrorCode.DUPLICATE, _("These SIMs are already registered: %(iccids)s.")
                              % {"iccids": ", ".join(taken)}, field="iccids")
        today = clock.today_jst()
        rest = list(numbers)
        shipped: list[dict[str, Any]] = []
        for item in sim_items:
            mine, rest = rest[:item.quantity], rest[item.quantity:]
            product = item.item
            if product.plan is None:
                raise DomainError(ErrorCode.VALIDATION_ERROR, _("Item %(code)s names no plan for its lines.")
                                  % {"code": product.code}, field="iccids")
            for iccid in mine:
                line = Line.objects.create(tenant=order.tenant, iccid=iccid, product_code=product.code,
                                           plan=product.plan, carrier=product.carrier, sim_type=product.sim_type,
                                           sim_size=product.sim_size, status=LineStatus.NOT_ACTIVATED,
                                           shipped_on=today, msisdn=None)
                line_history_open(line=line, reason=LinePeriodReason.REGISTERED, at=clock.now())
                shipped.append({"line_id": line.pk, "iccid": iccid, "product_code": product.code})
            item.iccids = mine
            item.save(update_fields=["iccids"])
        before = order.status
        order.status = OrderStatus.SHIPPED
        order.carrier_name, order.tracking_number, order.shipped_on = carrier_name, tracking, today
        order.save(update_fields=["status", "carrier_name", "tracking_number", "shipped_on", "updated_at"])
        _event(order, before, _actor(staff, actor), f"{carrier_name} {tracking}")
        audit_record(action="goods.order.ship", tenant=order.tenant, user=staff,
                     actor=None if getattr(staff, "pk", None) else actor, target=order,
                     changes={"status": [before, order.status], "tracking_number": [None, tracking],
                              "iccids": [None, numbers]})
        event_emit(tenant_id=order.tenant_id, type=event_types.SIM_SHIPPED, data={
            "goods_order_id": order.pk, "number": order.number, "carrier_name": carrier_name,
            "tracking_number": tracking, "shipped_on": today.isoformat(), "sims": shipped})
        _order_mail(order, "shipped")
    return order


def order_deliver(*, order_id: int, staff: Any = None, actor: str = "operator",
                  delivered_on: dt.date | None = None) -> GoodsOrder:
    with transaction.atomic():
        order = GoodsOrder.objects.select_for_update().select_related("tenant").filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("No such order."))
        if order.status != OrderStatus.SHIPPED:
            raise DomainError(ErrorCode.ORDER_STATE_INVALID, _("Only a shipped order can be delivered."))
        day = delivered_on or clock.today_jst()
        if order.shipped_on and day < order.shipped_on:
            raise DomainError(ErrorCode.INVALID_DATE, _("The delivery date is before the ship date."),
                              field="delivered_on")
        before = order.status
        order.status, order.delivered_on = OrderStatus.DELIVERED, day
        order.save(update_fields=["status", "delivered_on", "updated_at"])
        _event(order, before, _actor(staff, actor))
        audit_record(action="goods.order.deliver", tenant=order.tenant, user=staff,
                     actor=None if getattr(staff, "pk", None) else actor, target=order,
                     changes={"status": [before, order.status]})
    return order


def order_tax_lines(order: GoodsOrder) -> list[dict[str, Any]]:
    return [{**r, "rate": Decimal(r["rate"]), "base": Decimal(r["base"]), "tax": Decimal(r["tax"])}
            for r in order.tax_rates]


# --- payment statement (請求明細書, S-ORD-2, seed 001 §5.4.2) ---------------------------------------------------

def payer_get(*, user: Any) -> StatementPayer | None:
    authorize(user=user, action=actions.GOODS_READ)
    return StatementPayer.objects.filter(tenant=_tenant(user)).first()


def payer_set(*, user: Any, company: str, name: str, department: str = "") -> StatementPayer:
    """The payer printed on the payment statement: company and name required, department optional."""
    authorize(user=user, action=actions.GOODS_READ)
    tenant = _tenant(user)
    company = _text(company, "company", max_length=120)
    department = _text(department, "department", max_length=120, required=False)
    name = _text(name, "name", max_length=120)
    with transaction.atomic():
        payer = StatementPayer.objects.select_for_update().filter(tenant=tenant).first()
        before = {"company": payer.company, "department": payer.department, "name": payer.name} if payer else {}
        payer, _created = StatementPayer.objects.update_or_create(
            tenant=tenant, defaults={"company": company, "department": department, "name": name})
        after = {"company": company, "department": department, "name": name}
        audit_record(action="goods.statement_payer.set", tenant=tenant, user=user, target=payer,
                     changes={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v})
    return payer


def statement_month(raw: str | dt.date) -> dt.date:
    """A month ``YYYY-MM`` from the contract's first months up to this month."""
    if isinstance(raw, dt.date):
        day = raw.replace(day=1)
    else:
        m = re.fullmatch(r"(\d{4})-(\d{2})", str(raw or "").strip())
        if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the month as YYYY-MM."), field="month")
        day = dt.date(int(m.group(1)), int(m.group(2)), 1)
    if day > clock.today_jst().replace(day=1):
        # The clock refuses a month of the right form (issue 14: a code of its own, as for the statements).
        raise DomainError(ErrorCode.STATEMENT_NOT_YET_AVAILABLE, _("The month has not started yet."), field="month")
    return day


def payment_statement(*, user: Any, coverage: str, month: str | dt.date) -> tuple[bytes, str]:
    """The payment statement PDF of a month and coverage, and its file name. The payer must be entered
    first (seed 001 §5.4.2)."""
    from kaisen.goods.pdf import payment_statement_filename, payment_statement_pdf

    authorize(user=user, action=actions.GOODS_READ)
    tenant = _tenant(user)
    coverage = _coverage(tenant, coverage)
    day = statement_month(month)
    payer = StatementPayer.objects.filter(tenant=tenant).first()
    if payer is None:
        raise DomainError(ErrorCode.PAYER_REQUIRED, _(
            "Enter the payer (company, department and name) printed on the payment statement first."),
            field="payer")
    audit_record(action="goods.payment_statement.download", tenant=tenant, user=user,
                 changes={"coverage": [None, coverage], "month": [None, f"{day:%Y-%m}"]})
    return (payment_statement_pdf(tenant=tenant, coverage=coverage, month=day, payer=payer),
            payment_statement_filename(tenant, coverage, day))
