"""The "Charges" pages (issue 4 §7; K-4, S-BILL-2, X-INVOICE-JP, X-PLOT).

Interfaces only: every read goes through ``kaisen.billing.charges`` with the signed-in user's tenant and
the user (``Billing:read``, ``line_scope``). Another tenant's invoice or number answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from kaisen.billing import charges, combined
from kaisen.billing.charges import (
    CALLS_PER_PAGE,
    bill_get,
    bill_list,
    bill_trend,
    call_page,
    cost_type_rows,
    current_get,
    number_charges_page,
    tax_class_totals,
)
from kaisen.billing.models import TaxClass
from kaisen.billing.pdf import invoice_pdf, invoice_pdf_filename
from kaisen.carriers.models import Coverage
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.web import request_tenant, request_user, tenant_user_required

View = Callable[..., HttpResponse]
NUMBERS_PER_PAGE = 20


def _domain_errors(view: View) -> View:
    """Permission refusals become the 403 page; NotFound the 404 page (another tenant's bill included)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc.message)) from exc
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise PermissionDenied(str(exc.message)) from exc
            return render(request, "billing/problem.html", {"message": exc.message}, status=exc.http_status)

    return wrapper


def _float(value: Any) -> float:
    return float(value or 0)


@tenant_user_required
@_domain_errors
def charges_view(request: HttpRequest) -> HttpResponse:
    """K-4: the last 4 months with their status; this month's provisional amount; the trend (X-PLOT)."""
    tenant, user = request_tenant(request), request_user(request)
    bills = bill_list(tenant=tenant, user=user, months=charges.DEFAULT_MONTHS)
    coverages = sorted({b.invoice.coverage for b in bills} | set(tenant.coverages or [Coverage.JAPAN]),
                       key=lambda c: Coverage.values.index(c))
    provisional = [current_get(tenant=tenant, user=user, coverage=c) for c in coverages]
    trend = bill_trend(tenant=tenant, user=user, months=12)
    has_history = any(p["billed_jpy"] or p["domestic"] or p["other"] for p in trend)
    chart = {
        "labels": [p["month"] for p in trend],
        "series": [
            {"key": "domestic", "label": _("Domestic calls"), "data": [_float(p["domestic"]) for p in trend]},
            {"key": "international", "label": _("International calls"),
             "data": [_float(p["international"]) for p in trend]},
            {"key": "mobile", "label": _("Mobile calls"), "data": [_float(p["mobile"]) for p in trend]},
            {"key": "other", "label": _("Fees and other charges"), "data": [_float(p["other"]) for p in trend]},
        ],
        "line": {"label": _("Amount billed (tax incl., yen, all coverages)"),
                 "data": [None if p["billed_jpy"] is None else _float(p["billed_jpy"]) for p in trend]},
        "currency": "JPY",
    }
    return render(request, "billing/charges.html", {
        "bills": bills, "provisional": provisional, "trend_chart": chart, "has_history": has_history,
        "show_coverage": len(coverages) > 1,
        "arrangements": combined.tenant_arrangements(tenant=tenant, user=user),
    })


@tenant_user_required
@_domain_errors
def current_view(request: HttpRequest) -> HttpResponse:
    """S-BILL-2: this month so far, by category, and day by day with a chart."""
    tenant, user = request_tenant(request), request_user(request)
    coverage = request.GET.get("coverage") or Coverage.JAPAN
    if coverage not in Coverage.values:
        coverage = Coverage.JAPAN
    p = current_get(tenant=tenant, user=user, coverage=coverage)
    chart = {
        "labels": [d.day.strftime("%m/%d") for d in p.days],
        "series": [{"key": "daily", "label": _("Charges of the day"), "data": [_float(d.amount) for d in p.days]}],
        "line": {"label": _("Running total"), "data": [_float(d.cumulative) for d in p.days], "axis": "y2"},
        "currency": p.currency,
    }
    return render(request, "billing/current.html", {"p": p, "daily_chart": chart, "coverage": coverage,
                                                    "coverages": Coverage.choices})


@tenant_user_required
@_domain_errors
def bill_detail_view(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """One month: totals by cost type and tax class, the PDF, per-number charges (K-4)."""
    tenant, user = request_tenant(request), request_user(request)
    bill = bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    rows = cost_type_rows(invoice=bill.invoice)
    q = request.GET.get("q", "").strip()
    error = None
    try:
        numbers = number_charges_page(tenant=tenant, user=user, invoice=bill.invoice, q=q,
                                      cursor=request.GET.get("cursor") or None, size=NUMBERS_PER_PAGE)
    except DomainError as exc:
        if exc.code == ErrorCode.PERMISSION_DENIED:
            raise
        error = exc.message
        numbers = None
    totals = tax_class_totals(rows)
    return render(request, "billing/detail.html", {
        "bill": bill, "invoice": bill.invoice, "rows": rows, "numbers": numbers, "q": q, "error": error,
        "shares": combined.shares(bill.invoice),
        "taxable_items": totals.get(TaxClass.TAXABLE_10), "exempt_items": totals.get(TaxClass.EXEMPT),
    }, status=400 if error else 200)


@tenant_user_required
@_domain_errors
def bill_pdf_view(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The qualified invoice (X-INVOICE-JP), generated on demand."""
    tenant, user = request_tenant(request), request_user(request)
    bill = bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    try:
        body = invoice_pdf(invoice=bill.invoice)
    except DomainError as exc:
        if exc.code != ErrorCode.INVOICE_NOT_ISSUED:
            raise
        return render(request, "billing/pdf_unavailable.html", {"invoice": bill.invoice, "message": exc.message},
                      status=409)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(bill.invoice)}"'
    return response


@tenant_user_required
@_domain_errors
def number_calls_view(request: HttpRequest, invoice_id: int, msisdn: str) -> HttpResponse:
    """K-4: one number's calls of the month, 10 per page: start (tenths of a second), destination, area,
    duration, charge."""
    tenant, user = request_tenant(request), request_user(request)
    bill = bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    page_no = request.GET.get("page", "1")
    page = int(page_no) if page_no.isdigit() and int(page_no) >= 1 else 1
    try:
        calls = call_page(tenant=tenant, user=user, month=bill.invoice.month, msisdn=msisdn, page=page,
                          per_page=CALLS_PER_PAGE, coverage=bill.invoice.coverage)
    except DomainError as exc:
        if exc.code != ErrorCode.VALIDATION_ERROR or exc.field != "page":
            raise
        calls = call_page(tenant=tenant, user=user, month=bill.invoice.month, msisdn=msisdn, page=1,
                          per_page=CALLS_PER_PAGE, coverage=bill.invoice.coverage)
    shown = sorted({1, calls.pages, *range(max(1, calls.page - 3), min(calls.pages, calls.page + 3) + 1)})
    window: list[int | None] = []
    for n in shown:
        if window and window[-1] is not None and n != window[-1] + 1:
            window.append(None)  # a gap, shown as "…"
        window.append(n)
    return render(request, "billing/calls.html", {"bill": bill, "invoice": bill.invoice, "calls": calls,
                                                  "page_window": window})
