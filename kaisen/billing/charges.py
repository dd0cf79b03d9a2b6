"""The read side of the "Charges" pages, the bills API and ``kaisen bills`` (issue 4 §7-§8; K-4, S-BILL-2).

Every function takes the tenant and the user: the tenant scopes every query (another tenant's invoice is
``NotFound``, like one that does not exist), the user is checked for ``Billing:read`` and limits the
per-number lists to the lines they may see (``line_scope``). Nothing here writes; the amounts are the
ones rating and the close stored on ``Invoice`` / ``InvoiceItem``, the loader on ``CallRecord`` and the
call rollups (``UsageRollup``, issue 10 §4: the per-number charges) — this module sums and pages them, it never
rates or taxes anything itself.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from kaisen.access.actions import BILLING_READ
from kaisen.access.services import authorize, line_scope
from kaisen.billing import selectors
from kaisen.billing.combined import group_items
from kaisen.billing.forecast import Forecast, project
from kaisen.billing.models import (
    ChargeCategory,
    Currency,
    Invoice,
    InvoiceCategoryTotal,
    InvoiceItem,
    InvoiceStatus,
    TaxClass,
)
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.calendar import add_months, last_day_of_month, month_start
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.paging import Page, SortKey, keyset_page
from kaisen.lines.models import Line
from kaisen.tenancy.models import Tenant
from kaisen.usage.models import CallRecord, CallType

ZERO = Decimal(0)
#: K-4 shows at most the last 4 months (the current one included); invoices are kept 7 years, so the API
#: may ask for up to 84 months.
DEFAULT_MONTHS = 4
MAX_MONTHS = 84
CALLS_PER_PAGE = 10  # K-4: "10件/ページまで表示します"
MAX_PAGE_SIZE = 500

#: Statuses of a closed invoice with a number (a ``no_charge`` month issues none).
PDF_STATUSES = frozenset({InvoiceStatus.FINAL, InvoiceStatus.INVOICED, InvoiceStatus.PAID,
                          InvoiceStatus.PAYMENT_ERROR})

#: The call categories of K-4 / K-6, in column order.
CALL_CATEGORIES = (ChargeCategory.DOMESTIC, ChargeCategory.INTERNATIONAL, ChargeCategory.MOBILE_AU,
                   ChargeCategory.MOBILE_OTHER)


def current_month() -> dt.date:
    return month_start(clock.today_jst())


def parse_month(value: str | None, *, field_name: str = "month") -> dt.date:
    """``YYYY-MM`` (or ``YYYYMM``) → the first day of that month; empty → the current month."""
    if not value:
        return current_month()
    match = re.fullmatch(r"(\d{4})-?(\d{2})", value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the month as YYYY-MM, e.g. 2026-10."), field=field_name)
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def _coverage(value: str | None) -> str | None:
    if not value:
        return None
    if value not in Coverage.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown coverage '%(value)s'.") % {"value": value},
                          field="coverage")
    return value


def _read_allowed(user: Any) -> None:
    authorize(user=user, action=BILLING_READ)


# ------------------------------------------------------------------------------------------------
# Months and invoices
# ------------------------------------------------------------------------------------------------

@dataclass
class Breakdown:
    """Amounts (tax excluded, in the invoice currency) by charge category."""

    by_category: dict[str, Decimal] = field(default_factory=dict)

    def get(self, category: str) -> Decimal:
        return self.by_category.get(category, ZERO)

    @property
    def domestic(self) -> Decimal:
        return self.get(ChargeCategory.DOMESTIC)

    @property
    def international(self) -> Decimal:
        return self.get(ChargeCategory.INTERNATIONAL)

    @property
    def mobile(self) -> Decimal:
        """K-4's "携帯/PHS通話": au and other mobile networks together."""
        return self.get(ChargeCategory.MOBILE_AU) + self.get(ChargeCategory.MOBILE_OTHER)

    @property
    def calls(self) -> Decimal:
        return sum((self.get(c) for c in CALL_CATEGORIES), ZERO)

    @property
    def subtotal(self) -> Decimal:
        """Every category, discounts included (tax excluded)."""
        return sum(self.by_category.values(), ZERO)

    def rows(self) -> list[tuple[str, str, Decimal]]:
        """``(category, label, amount)`` for every category, in the catalogue's order."""
        return [(value, str(label), self.get(value)) for value, label in ChargeCategory.choices]


@dataclass
class Bill:
    """One month of one coverage, as the Charges list shows it (K-4, S-BILL-2). A combined invoice's
    breakdown covers every account on it (S-BILL-5); a member's month has its own share."""

    invoice: Invoice
    breakdown: Breakdown

    @property
    def month(self) -> dt.date:
        return self.invoice.month

    @property
    def is_current(self) -> bool:
        return self.invoice.month == current_month()

    @property
    def pdf_available(self) -> bool:
        return invoice_pdf_available(self.invoice)


def invoice_pdf_available(invoice: Invoice) -> bool:
    """The qualified invoice exists from its issue date (S-BILL-1: the 4th business day of the next month).

    A closed invoice is ``final`` until then and ``invoiced`` from then (``kaisen admin billing issue-due``); the
    date decides, so the PDF is there on the issue date even before that job has run."""
    return (invoice.status in PDF_STATUSES and invoice.issued_on is not None
            and invoice.issued_on <= clock.today_jst())


def _breakdowns(invoice_ids: list[int]) -> dict[int, Breakdown]:
    """By category, per invoice: its own items and, for a combined invoice, its members' (S-BILL-5)."""
    result: dict[int, Breakdown] = {pk: Breakdown() for pk in invoice_ids}
    # The sums rating stored with the items (a few rows per invoice, whatever its lines).
    own = (InvoiceCategoryTotal.objects.filter(invoice_id__in=invoice_ids).order_by()
           .values_list("invoice_id", "category").annotate(amount=Sum("amount")))
    members = (InvoiceCategoryTotal.objects.filter(invoice__combined_into_id__in=invoice_ids).order_by()
               .values_list("invoice__combined_into_id", "category").annotate(amount=Sum("amount")))
    for rows in (own, members):
        for invoice_id, category, amount in rows:
            into = result[invoice_id].by_category
            into[category] = into.get(category, ZERO) + (amount or ZERO)
    return result


def bill_list(*, tenant: Tenant, user: Any, months: int = DEFAULT_MONTHS, coverage: str | None = None) -> list[Bill]:
    """The tenant's invoices of the last ``months`` months, the current one included, newest first (K-4)."""
    if not 1 <= months <= MAX_MONTHS:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("Months must be between 1 and %(max)d.") % {"max": MAX_MONTHS}, field="months")
    invoices = selectors.invoice_list(tenant=tenant, user=user, months=months, coverage=_coverage(coverage))
    breakdowns = _breakdowns([i.pk for i in invoices])
    return [Bill(invoice=i, breakdown=breakdowns[i.pk]) for i in invoices]


def bill_get(*, tenant: Tenant, user: Any, invoice_id: int) -> Bill:
    """One invoice of ``tenant``; another tenant's is NotFound."""
    invoice = selectors.invoice_get(tenant=tenant, user=user, invoice_id=invoice_id)
    return Bill(invoice=invoice, breakdown=_breakdowns([invoice.pk])[invoice.pk])


@dataclass(frozen=True)
class CostTypeRow:
    """The invoice's items summed by cost type and tax class: what the invoice itself lists."""

    category: str
    cost_type: str
    label: str
    tax_class: str
    quantity: Decimal
    amount: Decimal
    numbers: int

    @property
    def category_label(self) -> str:
        return str(ChargeCategory(self.category).label) if self.category in ChargeCategory.values else self.category

    @property
    def tax_class_label(self) -> str:
        return str(TaxClass(self.tax_class).label) if self.tax_class in TaxClass.values else self.tax_class


_CATEGORY_ORDER = {value: n for n, value in enumerate(ChargeCategory.values)}
_TAX_ORDER = {value: n for n, value in enumerate(TaxClass.values)}


def cost_type_rows(*, invoice: Invoice) -> list[CostTypeRow]:
    """One GROUP BY over the items the invoice bills — a combined invoice's include its members' (S-BILL-5);
    the invoice is already tenant-checked by ``bill_get``."""
    rows = (group_items(invoice).order_by()
            .values_list("tax_class", "category", "cost_type", "label")
            .annotate(quantity=Sum("quantity"), amount=Sum("amount"),
                      numbers=Count("msisdn", distinct=True, filter=~Q(msisdn=""))))
    out = [CostTypeRow(category=c, cost_type=ct, label=label, tax_class=tc, quantity=q or ZERO, amount=a or ZERO,
                       numbers=n) for tc, c, ct, label, q, a, n in rows]
    out.sort(key=lambda r: (_TAX_ORDER.get(r.tax_class, 99), _CATEGORY_ORDER.get(r.category, 99), r.cost_type,
                            r.label))
    return out


def tax_class_totals(rows: list[CostTypeRow]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        totals[row.tax_class] += row.amount
    return dict(totals)


def bill_trend(*, tenant: Tenant, user: Any, months: int = 12) -> list[dict[str, Any]]:
    """Month by month, oldest first (X-PLOT): the yen invoices' charges by category (tax excluded) and the
    amount billed in yen over every coverage (a USD invoice counts with its stored yen amount, S-COV-1).

    Months without an invoice are present with zero charges, so the chart's axis has no holes; the billed
    amount is ``None`` for a month with nothing billed yet (the open month, or before the first invoice),
    so the line stops there instead of dropping to zero."""
    bills = bill_list(tenant=tenant, user=user, months=months)
    first = add_months(current_month(), -(months - 1))
    series: dict[dt.date, dict[str, Any]] = {}
    for n in range(months):
        m = add_months(first, n)
        series[m] = {"month": m.strftime("%Y-%m"), "domestic": ZERO, "international": ZERO, "mobile": ZERO,
                     "other": ZERO, "billed_jpy": None}
    for bill in bills:
        point = series[bill.month]
        inv = bill.invoice
        if inv.currency == Currency.JPY:
            b = bill.breakdown
            point["domestic"] += b.domestic
            point["international"] += b.international
            point["mobile"] += b.mobile
            point["other"] += b.subtotal - b.calls
        if inv.status != InvoiceStatus.ACCUMULATING:
            billed = inv.total if inv.currency == Currency.JPY else Decimal(inv.total_jpy)
            point["billed_jpy"] = (point["billed_jpy"] or ZERO) + billed
    return list(series.values())


# ------------------------------------------------------------------------------------------------
# The current month (S-BILL-2): provisional amounts and the daily breakdown
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DayPoint:
    day: dt.date
    amount: Decimal
    cumulative: Decimal


@dataclass
class Current:
    """This month so far (S-BILL-2), from rating's ``provisional``: the accumulating invoice's amounts by
    category and the call and SMS charges day by day (as billed: flat-rate free calls are 0). Provisional:
    final on the 2nd business day of the next month (S-BILL-1)."""

    data: selectors.Provisional
    breakdown: Breakdown
    days: list[DayPoint]

    @property
    def month(self) -> dt.date:
        return self.data.month

    @property
    def coverage(self) -> str:
        return self.data.coverage

    @property
    def coverage_label(self) -> str:
        return str(Coverage(self.data.coverage).label)

    @property
    def currency(self) -> str:
        return self.data.currency

    @property
    def invoice_id(self) -> int | None:
        return self.data.invoice_id

    @property
    def subtotal(self) -> Decimal:
        return self.data.subtotal

    @property
    def usage_total(self) -> Decimal:
        return self.days[-1].cumulative if self.days else ZERO

    @property
    def has_usage(self) -> bool:
        return any(d.amount for d in self.days)

    @property
    def projection(self) -> Forecast:
        """The projected month-end amount (issue 13 §4): fees once, usage at the run rate of the days so far."""
        return project(categories=dict(self.breakdown.by_category), coverage=self.coverage, currency=self.currency,
                       today=min(clock.today_jst(), last_day_of_month(self.month)))


def current_get(*, tenant: Tenant, user: Any, coverage: str = Coverage.JAPAN, month: dt.date | None = None) -> Current:
    data = selectors.provisional(tenant=tenant, user=user, coverage=_coverage(coverage) or Coverage.JAPAN,
                                 month=month)
    days: list[DayPoint] = []
    running = ZERO
    for day, amount in sorted(data.daily.items()):
        running += amount
        days.append(DayPoint(day=day, amount=amount, cumulative=running))
    return Current(data=data, breakdown=Breakdown(by_category=dict(data.categories)), days=days)


def forecasts_for_user(*, tenant: Tenant, user: Any) -> list[Forecast]:
    """This month's projection per coverage the tenant has (what the user may see: ``Billing:read``, their
    lines)."""
    out = []
    for coverage in tenant.coverages or [Coverage.JAPAN]:
        out.append(current_get(tenant=tenant, user=user, coverage=coverage).projection)
    return out


# ------------------------------------------------------------------------------------------------
# Per-number charges (K-4 / K-6)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberCharges:
    """One number's call charges of the month at the standard rate, tax excluded (K-4, K-6: the 通常料金;
    a flat-rate line's free calls still show here and are reduced to 0 on the invoice)."""

    msisdn: str
    line_id: int | None
    domestic: Decimal
    international: Decimal
    au: Decimal
    other_mobile: Decimal

    @property
    def mobile(self) -> Decimal:
        return self.au + self.other_mobile

    @property
    def total(self) -> Decimal:
        """K-6 "合計料金": the four call columns together."""
        return self.domestic + self.international + self.au + self.other_mobile


@dataclass
class NumberPage:
    items: list[NumberCharges]
    next_cursor: str | None
    prev_cursor: str | None
    count: int


def _number_cursor(direction: str, msisdn: str) -> str:
    return base64.urlsafe_b64encode(f"{direction}:{msisdn}".encode()).decode().rstrip("=")


def _number_cursor_decode(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        direction, msisdn = raw.split(":", 1)
        if direction not in ("a", "b") or not (msisdn.isascii() and msisdn.isdigit()):
            raise ValueError(raw)
        return direction, msisdn
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise DomainError(ErrorCode.INVALID_CURSOR, _("The page cursor is not valid; start again from the first page."),
                          field="cursor") from exc


_NON_DIGITS = re.compile(r"[\s\-‐－()（）]")


def number_query(q: str) -> str:
    digits = _NON_DIGITS.sub("", q or "").translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if digits and not (digits.isascii() and digits.isdigit()):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Search by phone number, digits only."), field="q")
    return digits


def number_charges_page(*, tenant: Tenant, user: Any, invoice: Invoice, q: str = "", cursor: str | None = None,
                        size: int = 20) -> NumberPage:
    """The month's per-number call charges, ordered by number, keyset-paged, searchable by number prefix.

    Only the numbers of the lines ``user`` may see (``line_scope``). ``invoice`` comes from ``bill_get``.
    Each page costs two indexed queries on (tenant, billing_month, msisdn), whatever the page."""
    _read_allowed(user)
    if invoice.tenant_id != tenant.pk:
        raise NotFound(_("No such bill."))
    size = max(1, min(size, MAX_PAGE_SIZE))
    digits = number_query(q)
    qs = selectors.call_charges(tenant=tenant, user=user, coverage=invoice.coverage, month_from=invoice.month,
                                month_to=invoice.month)
    if digits:
        qs = qs.filter(msisdn__gte=digits, msisdn__lt=digits + ":")
    count = qs.order_by().values("msisdn").distinct().count()
    direction = "a"
    page_qs = qs
    if cursor:
        direction, last = _number_cursor_decode(cursor)
        page_qs = qs.filter(msisdn__gt=last) if direction == "a" else qs.filter(msisdn__lt=last)
    numbers = list(page_qs.order_by("-msisdn" if direction == "b" else "msisdn").values_list("msisdn", flat=True)
                   .distinct()[:size + 1])
    has_more = len(numbers) > size
    numbers = numbers[:size]
    if direction == "b":
        numbers.reverse()
    sums: dict[str, dict[str, Decimal]] = defaultdict(dict)
    line_ids: dict[str, int] = {}
    for msisdn, column, line_id, amount in (qs.filter(msisdn__in=numbers).order_by()
                                            .values_list("msisdn", "col", "line_id").annotate(amount=Sum("charge"))):
        sums[msisdn][column] = sums[msisdn].get(column, ZERO) + (amount or ZERO)
        line_ids.setdefault(msisdn, line_id)
    items = [NumberCharges(msisdn=m, line_id=line_ids.get(m), domestic=sums[m].get("domestic", ZERO),
                           international=sums[m].get("international", ZERO), au=sums[m].get("au", ZERO),
                           other_mobile=sums[m].get("other_mobile", ZERO)) for m in numbers]
    if not items:
        return NumberPage(items=[], next_cursor=None, prev_cursor=None, count=count)
    if direction == "b":
        next_cursor: str | None = _number_cursor("a", items[-1].msisdn)
        prev_cursor = _number_cursor("b", items[0].msisdn) if has_more else None
    else:
        next_cursor = _number_cursor("a", items[-1].msisdn) if has_more else None
        prev_cursor = _number_cursor("b", items[0].msisdn) if cursor else None
    return NumberPage(items=items, next_cursor=next_cursor, prev_cursor=prev_cursor, count=count)


def invoice_items_page(*, tenant: Tenant, user: Any, invoice: Invoice, msisdn: str = "", cursor: str | None = None,
                       size: int = 100) -> Page[InvoiceItem]:
    """The invoice's items one by one (the detail the CSV statements carry), keyset-paged by ID."""
    _read_allowed(user)
    if invoice.tenant_id != tenant.pk:
        raise NotFound(_("No such bill."))
    qs = selectors.visible_items(tenant=tenant, user=user, invoice=invoice)
    digits = number_query(msisdn)
    if digits:
        qs = qs.filter(msisdn=digits)
    return keyset_page(qs, key=SortKey("id"), size=max(1, min(size, MAX_PAGE_SIZE)), cursor=cursor)


# ------------------------------------------------------------------------------------------------
# Call details of one number, 10 per page (K-4)
# ------------------------------------------------------------------------------------------------

@dataclass
class CallPage:
    msisdn: str
    month: dt.date
    items: list[CallRecord]
    page: int
    pages: int
    count: int
    total_charge: Decimal  # the calls, as the per-number table counts them (selectors.per_number_calls)
    per_page: int
    sms_charge: Decimal = ZERO  # the SMS listed on the page, apart

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.per_page + 1

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.items) - 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _calls_qs(*, tenant: Tenant, user: Any, month: dt.date) -> QuerySet[CallRecord]:
    qs = CallRecord.objects.filter(tenant=tenant, billing_month=month)
    scope = line_scope(user=user, prefix="line__")
    if scope:
        qs = qs.filter(scope)
    return qs


def call_page(*, tenant: Tenant, user: Any, month: dt.date, line: Line | None = None, msisdn: str = "",
              page: int = 1, per_page: int = CALLS_PER_PAGE, coverage: str | None = None) -> CallPage:
    """One number's calls billed in ``month``, by start time, ``per_page`` (10) to a page (K-4).

    The page lists calls and SMS; ``total_charge`` is the calls only, by the same definition as the
    per-number table (``selectors.per_number_calls``), so the two show one figure for a number (issue 14);
    ``sms_charge`` is the SMS apart. ``coverage`` (a bill's): only that coverage's lines, as the table.

    Give the line (API: already tenant-checked by ``line_get``) or the phone number (the Charges pages).
    A number the user may not see, or that is not the tenant's, is NotFound."""
    _read_allowed(user)
    if page < 1:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The page number must be 1 or more."), field="page")
    per_page = max(1, min(per_page, 100))
    qs = _calls_qs(tenant=tenant, user=user, month=month_start(month))
    if coverage is not None:
        qs = qs.filter(line__plan__coverage=coverage)
    if line is not None:
        if line.tenant_id != tenant.pk:
            raise NotFound(_("No such line."))
        scope = line_scope(user=user)
        if scope and not Line.objects.filter(scope, pk=line.pk).exists():
            raise NotFound(_("No such line."))
        qs = qs.filter(line=line)
        number = line.msisdn or ""
    else:
        number = number_query(msisdn)
        if not number:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give a phone number."), field="msisdn")
        visible = Line.objects.filter(tenant=tenant, msisdn=number)
        scope = line_scope(user=user)
        if scope:
            visible = visible.filter(scope)
        has_calls = qs.filter(msisdn=number).exists()
        has_items = _scoped_items_for_number(tenant=tenant, user=user, month=month_start(month), msisdn=number)
        if not (has_calls or has_items or visible.exists()):
            raise NotFound(_("No such phone number."))
        qs = qs.filter(msisdn=number)
    agg = qs.aggregate(n=Count("id"), total=Sum("charge", filter=selectors.per_number_calls()),
                       sms=Sum("charge", filter=Q(call_type__in=selectors.SMS_CALL_TYPES)))
    count = agg["n"] or 0
    pages = max(1, -(-count // per_page))
    if page > pages:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("There are only %(pages)d pages.") % {"pages": pages}, field="page")
    offset = (page - 1) * per_page
    items = list(qs.order_by("started_at", "id")[offset:offset + per_page])
    return CallPage(msisdn=number, month=month_start(month), items=items, page=page, pages=pages, count=count,
                    total_charge=_cents(agg["total"]), per_page=per_page, sms_charge=_cents(agg["sms"]))


def _cents(value: Decimal | None) -> Decimal:
    """A sum of charges to the cent (SQLite sums decimals as floats)."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _scoped_items_for_number(*, tenant: Tenant, user: Any, month: dt.date, msisdn: str) -> bool:
    qs = InvoiceItem.objects.filter(tenant=tenant, invoice__month=month, msisdn=msisdn)
    scope = line_scope(user=user, prefix="line__")
    if scope:
        qs = qs.filter(scope)
    return qs.exists()


# ------------------------------------------------------------------------------------------------
# Display formats of the call detail (K-4 screen, K-7 file)
# ------------------------------------------------------------------------------------------------

def tenths(value: dt.datetime) -> int:
    return value.microsecond // 100_000


def duration_hms(duration_ds: int) -> tuple[int, int, int, int]:
    """Tenths of a second → (hours, minutes, seconds, tenths)."""
    seconds, tenth = divmod(int(duration_ds), 10)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return hours, minutes, secs, tenth


def is_counted(call: CallRecord) -> bool:
    """Directory assistance (and SMS) is counted, not timed: shown as ``N件`` (K-7)."""
    return call.call_type in (CallType.DIRECTORY_ASSISTANCE, CallType.SMS, CallType.SMS_INTERNATIONAL)


def duration_code(call: CallRecord) -> str:
    """``hhmmss.s`` (K-7), or the count for a counted record."""
    if is_counted(call):
        return str(call.units)
    h, m, s, t = duration_hms(call.duration_ds)
    return f"{h:02d}{m:02d}{s:02d}.{t}"
