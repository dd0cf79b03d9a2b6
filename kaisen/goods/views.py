"""Pages for SIM and device quotes and orders (issue 12; S-ORD-1, S-ORD-2).

The public quote calculator (before login, when the operator offers it) and, in the portal: the calculator,
saved quotes (PDF, email), the order flow cart → confirm → complete, the order list and detail (tracking
number, cancel, retry after a failed payment, delivery note) and the payment statement. The rules live in
``kaisen.goods.services``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kaisen.access import actions
from kaisen.access.services import can
from kaisen.access.web import action_required
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.middleware import ip_from_request
from kaisen.core.web import request_user
from kaisen.goods import services
from kaisen.goods.calc import SHIP_EXCLUDED, SHIP_JAPAN
from kaisen.goods.catalogue import catalogue
from kaisen.goods.models import PRODUCT_KINDS, ItemKind, OrderStatus
from kaisen.goods.pdf import delivery_note_pdf, quote_pdf


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _coverage(request: HttpRequest, tenant: Any = None) -> str:
    value = request.POST.get("coverage") or request.GET.get("coverage") or Coverage.JAPAN
    allowed = tenant.coverages if tenant is not None else list(Coverage.values)
    return value if value in allowed else (allowed[0] if allowed else Coverage.JAPAN)


def _choices(coverage: str, *, quote: bool) -> dict[str, Any]:
    """The catalogue as the calculator shows it: products by kind and the running items, with today's price."""
    lang = "ja" if (get_language() or "ja").startswith("ja") else "en"
    items = catalogue(coverage=coverage, quotable_only=quote)
    groups = []
    for kind in PRODUCT_KINDS:
        rows = [(i, p) for i, p in items if i.kind == kind]
        if rows:
            groups.append({"kind": kind, "label": ItemKind(kind).label, "rows": rows})
    running = [(i, p) for i, p in items if i.kind == ItemKind.RUNNING] if quote else []
    return {"groups": groups, "running": running, "lang": lang,
            "currency": "USD" if coverage == Coverage.GLOBAL else "JPY"}


def _rows(request: HttpRequest, prefix: str) -> list[dict[str, Any]]:
    rows = []
    for key in request.POST:
        value = str(request.POST.get(key, "")).strip()
        if key.startswith(prefix) and value not in ("", "0"):
            rows.append({"code": key[len(prefix):][:40], "quantity": value[:6]})
    return rows[:60]


def _quantities(request: HttpRequest) -> dict[str, str]:
    return {k.split("_", 1)[1]: str(request.POST.get(k, "")) for k in request.POST if k.startswith(("p_", "r_"))}


# --- public calculator -------------------------------------------------------------------------------------

@never_cache
@require_http_methods(["GET", "POST"])
def public_calculator(request: HttpRequest) -> HttpResponse:
    if not services.public_calculator_enabled():
        raise Http404
    coverage = _coverage(request)
    error = None
    if request.method == "POST":
        try:
            quote = services.quote_save(coverage=coverage, products=_rows(request, "p_"), running=_rows(request, "r_"),
                                        shipping=request.POST.get("shipping", SHIP_JAPAN),
                                        nekopos=request.POST.get("nekopos") == "on",
                                        addressee=request.POST.get("addressee", "")[:200])
        except DomainError as exc:
            error = exc.message
        else:
            return redirect("goods_public:quote", token=quote.token)
    return render(request, "goods/calculator.html", {
        "public": True, "coverage": coverage, "error": error, "values": _quantities(request),
        "shipping": request.POST.get("shipping", SHIP_JAPAN), "nekopos": request.POST.get("nekopos") == "on",
        "addressee": request.POST.get("addressee", ""), "ship_japan": SHIP_JAPAN, "ship_excluded": SHIP_EXCLUDED,
        "coverages": [(c, Coverage(c).label) for c in Coverage.values], **_choices(coverage, quote=True)})


@never_cache
@require_GET
def public_quote(request: HttpRequest, token: str) -> HttpResponse:
    try:
        quote = services.quote_by_token(token=token)
    except NotFound as exc:
        raise Http404 from exc
    if request.GET.get("format") == "pdf":
        return _pdf(quote_pdf(quote=quote), f"quote_{quote.number}.pdf")
    return render(request, "goods/quote_detail.html", {"quote": quote, "f": quote.figures, "public": True,
                                                       "max_emails": services.MAX_EMAILS})


@never_cache
@require_POST
def public_quote_email(request: HttpRequest, token: str) -> HttpResponse:
    """Mail a public quote (only the quote: no text of the visitor's), limited per client and recipient."""
    try:
        quote = services.quote_by_token(token=token)
    except NotFound as exc:
        raise Http404 from exc
    try:
        to = services.public_quote_email(token=token, emails=request.POST.get("emails", "")[:1000],
                                         ip=ip_from_request(request))
    except DomainError as exc:
        return render(request, "goods/quote_detail.html", {
            "quote": quote, "f": quote.figures, "public": True, "max_emails": services.MAX_EMAILS,
            "email_error": exc.message, "emails": request.POST.get("emails", "")[:1000]},
            status=exc.http_status)
    messages.success(request, _("The quote was sent to %(to)s.") % {"to": ", ".join(to)})
    return redirect("goods_public:quote", token=quote.token)


# --- portal: quotes ------------------------------------------------------------------------------------------

@action_required(actions.GOODS_QUOTE)
@never_cache
@require_http_methods(["GET", "POST"])
def calculator(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    refusal = services.calculator_refusal(user.tenant) if user.tenant is not None else None
    if refusal is not None:
        return render(request, "goods/calculator.html", {"public": False, "not_in_contract": refusal.message},
                      status=403 if request.method == "POST" else 200)
    coverage = _coverage(request, user.tenant)
    error = None
    if request.method == "POST":
        try:
            quote = services.quote_save(user=user, coverage=coverage, products=_rows(request, "p_"),
                                        running=_rows(request, "r_"),
                                        shipping=request.POST.get("shipping", SHIP_JAPAN),
                                        nekopos=request.POST.get("nekopos") == "on",
                                        addressee=request.POST.get("addressee", "")[:200])
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise
            error = exc.message
        else:
            messages.success(request, _("Quote %(number)s saved.") % {"number": quote.number})
            return redirect("goods:quote", quote_id=quote.pk)
    return render(request, "goods/calculator.html", {
        "public": False, "coverage": coverage, "error": error, "values": _quantities(request),
        "shipping": request.POST.get("shipping", SHIP_JAPAN), "nekopos": request.POST.get("nekopos") == "on",
        "addressee": request.POST.get("addressee", user.tenant.legal_name if user.tenant else ""),
        "ship_japan": SHIP_JAPAN, "ship_excluded": SHIP_EXCLUDED,
        "coverages": [(c, Coverage(c).label) for c in user.tenant.coverages] if user.tenant else [],
        **_choices(coverage, quote=True)})


@action_required(actions.GOODS_QUOTE)
@require_GET
def quote_list(request: HttpRequest) -> HttpResponse:
    quotes = services.quote_list(user=request_user(request))[:200]
    return render(request, "goods/quote_list.html", {"quotes": quotes, "today": clock.today_jst()})


def _quote(request: HttpRequest, quote_id: int) -> Any:
    try:
        return services.quote_get(user=request_user(request), quote_id=quote_id)
    except NotFound as exc:
        raise Http404 from exc


@action_required(actions.GOODS_QUOTE)
@never_cache
@require_GET
def quote_detail(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = _quote(request, quote_id)
    user = request_user(request)
    return render(request, "goods/quote_detail.html", {
        "quote": quote, "f": quote.figures, "public": False, "expired": quote.valid_until < clock.today_jst(),
        "can_order": can(user=user, action=actions.GOODS_ORDER)})


@action_required(actions.GOODS_QUOTE)
@require_GET
def quote_pdf_view(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = _quote(request, quote_id)
    return _pdf(quote_pdf(quote=quote), f"quote_{quote.number}.pdf")


@action_required(actions.GOODS_QUOTE)
@require_POST
def quote_email(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = _quote(request, quote_id)
    try:
        to = services.quote_email(user=request_user(request), quote_id=quote.pk,
                                  emails=request.POST.get("emails", "")[:1000])
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The quote was sent to %(to)s.") % {"to": ", ".join(to)})
    return redirect("goods:quote", quote_id=quote.pk)


# --- portal: orders ------------------------------------------------------------------------------------------

def _order_input(request: HttpRequest) -> dict[str, Any]:
    raw = (request.POST.get("desired_delivery_on") or "").strip()
    desired = None
    if request.POST.get("advance") == "on" or raw:
        try:
            desired = dt.date.fromisoformat(raw)
        except ValueError:
            raise DomainError(ErrorCode.INVALID_DATE, _("Give the delivery date as YYYY-MM-DD."),
                              field="desired_delivery_on") from None
    quote_id = request.POST.get("quote_id") or ""
    return {"products": _rows(request, "p_"), "nekopos": request.POST.get("nekopos") == "on",
            "desired_delivery_on": desired, "quote_id": int(quote_id) if quote_id.isdigit() else None,
            "recipient": request.POST.get("recipient", "")[:300],
            "postal_code": request.POST.get("postal_code", "")[:20],
            "address": request.POST.get("address", "")[:400], "phone": request.POST.get("phone", "")[:40]}


@action_required(actions.GOODS_ORDER)
@never_cache
@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest) -> HttpResponse:
    """Cart (step 1) → confirm (step 2) → complete (the order's page). The payment method is the coverage's."""
    user = request_user(request)
    tenant = user.tenant
    if tenant is None:
        raise Http404
    coverage = _coverage(request, tenant)
    quote = None
    quote_id = request.GET.get("quote") or request.POST.get("quote_id") or ""
    if quote_id.isdigit():
        quote = services.Quote.objects.filter(tenant=tenant, pk=int(quote_id)).first()
        if quote is None:
            raise Http404
        coverage = quote.coverage
    method = services.payment_kind_for(tenant=tenant, coverage=coverage)
    step = request.POST.get("step", "cart") if request.method == "POST" else "cart"
    error = None
    preview = None
    data: dict[str, Any] = {}
    if request.method == "POST" and step == "edit":
        step = "cart"
    elif request.method == "POST":
        try:
            data = _order_input(request)
            if step == "confirm":
                order, _replayed = services.order_create(user=user, coverage=coverage,
                                                         idempotency_key=request.POST.get("idempotency_key", "")[:100],
                                                         **data)
                return redirect(reverse("goods:order", kwargs={"goods_order_id": order.pk}) + "?done=1")
            for name in ("recipient", "address"):
                services._text(data[name], name, max_length=120 if name == "recipient" else 200)
            services._postal(data["postal_code"])
            preview = services.order_preview(user=user, coverage=coverage, products=data["products"],
                                             nekopos=data["nekopos"], desired_delivery_on=data["desired_delivery_on"],
                                             quote_id=data["quote_id"])[0]
            step = "confirm"
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise
            error = exc.message
            step = "cart"
    values = _quantities(request)
    if quote is not None and request.method == "GET":
        values = {r["code"]: str(r["quantity"]) for r in quote.request.get("products", [])}
    return render(request, "goods/order_new.html", {
        "step": step, "coverage": coverage, "quote": quote, "method": method, "error": error, "preview": preview,
        "values": values, "post": request.POST, "data": data, "idempotency_key": uuid.uuid4().hex,
        "earliest": clock.today_jst() + dt.timedelta(days=services.ADVANCE_MIN_DAYS),
        "coverages": [(c, Coverage(c).label) for c in tenant.coverages] if tenant else [],
        "nekopos": request.POST.get("nekopos") == "on" or bool(quote and quote.request.get("nekopos")),
        **_choices(coverage, quote=False)})


@action_required(actions.GOODS_READ)
@never_cache
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    if status not in (None, *OrderStatus.values):
        status = None
    orders = services.order_list(user=request_user(request), status=status)[:200]
    return render(request, "goods/order_list.html", {
        "orders": orders, "status": status, "statuses": OrderStatus.choices,
        "can_order": can(user=request_user(request), action=actions.GOODS_ORDER)})


def _order(request: HttpRequest, order_id: int) -> Any:
    try:
        return services.order_get(user=request_user(request), order_id=order_id)
    except NotFound as exc:
        raise Http404 from exc


@action_required(actions.GOODS_READ)
@never_cache
@require_GET
def order_detail(request: HttpRequest, goods_order_id: int) -> HttpResponse:
    order = _order(request, goods_order_id)
    user = request_user(request)
    return render(request, "goods/order_detail.html", {
        "order": order, "items": list(order.items.all()),
        "events": [(e, OrderStatus(e.to_status).label if e.to_status in OrderStatus.values else e.to_status)
                   for e in order.events.all()],
        "cancellable": services.order_is_cancellable(order), "needs_refund": services.order_needs_refund(order),
        "done": request.GET.get("done") == "1",
        "can_order": can(user=user, action=actions.GOODS_ORDER)})


@action_required(actions.GOODS_ORDER)
@require_POST
def order_cancel(request: HttpRequest, goods_order_id: int) -> HttpResponse:
    order = _order(request, goods_order_id)
    try:
        services.order_cancel(user=request_user(request), order_id=order.pk)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Order %(number)s was cancelled.") % {"number": order.number})
    return redirect("goods:order", goods_order_id=order.pk)


@action_required(actions.GOODS_ORDER)
@require_POST
def order_retry(request: HttpRequest, goods_order_id: int) -> HttpResponse:
    order = _order(request, goods_order_id)
    try:
        done = services.order_retry_payment(user=request_user(request), order_id=order.pk)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        if done.status == OrderStatus.AWAITING_SHIPMENT:
            messages.success(request, _("The payment went through; the order will ship."))
        else:
            messages.error(request, _("The payment failed again. Check the card on the payment settings page."))
    return redirect("goods:order", goods_order_id=order.pk)


@action_required(actions.GOODS_READ)
@require_GET
def order_delivery_note(request: HttpRequest, goods_order_id: int) -> HttpResponse:
    order = _order(request, goods_order_id)
    if order.shipped_on is None:
        raise Http404
    return _pdf(delivery_note_pdf(order=order), f"delivery_note_{order.number}.pdf")


# --- portal: payment statement -------------------------------------------------------------------------------

@action_required(actions.GOODS_READ)
@never_cache
@require_http_methods(["GET", "POST"])
def statement(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    payer = services.payer_get(user=user)
    error = None
    if request.method == "POST" and request.POST.get("action") == "payer":
        try:
            payer = services.payer_set(user=user, company=request.POST.get("company", "")[:300],
                                       department=request.POST.get("department", "")[:300],
                                       name=request.POST.get("name", "")[:300])
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("The payer was saved."))
            return redirect("goods:statement")
    if request.method == "GET" and request.GET.get("month"):
        try:
            data, name = services.payment_statement(user=user, coverage=_coverage(request, user.tenant),
                                                    month=request.GET["month"][:7])
        except DomainError as exc:
            error = exc.message
        else:
            return _pdf(data, name)
    today = clock.today_jst().replace(day=1)
    months = []
    day = today
    for _i in range(12):
        months.append(day)
        day = (day - dt.timedelta(days=1)).replace(day=1)
    values = {name: request.POST.get(name, getattr(payer, name, "") if payer else "")
              for name in ("company", "department", "name")}
    return render(request, "goods/statement.html", {
        "payer": payer, "error": error, "months": months, "values": values,
        "coverages": [(c, Coverage(c).label) for c in user.tenant.coverages] if user.tenant else []})
