"""Reading invoices and charges (issue 4 §3, §7; S-BILL-2, K-4, K-6). Stable API for the bill pages,
the invoice PDF, the bills API and the statements (part `view` and others read these).

Every function takes the tenant and the user: another tenant's invoice is ``NotFound``; the user needs
``Billing:read`` (``kaisen.access``); per-number figures are limited to the lines the user may see
(``line_scope``). Amounts are ``Decimal`` in the invoice currency (JPY for Japan, USD for Global),
tax excluded unless a name says otherwise.

Functions:

* ``invoice_list(tenant=, user=, months=4, coverage=None)`` → ``list[Invoice]``, newest month first: the
  invoices (any status, ``accumulating`` included) of the last ``months`` months counting the current one.
* ``invoice_get(tenant=, user=, invoice_id=)`` → ``Invoice`` or ``NotFound``.
* ``invoice_items(tenant=, user=, invoice=)`` → ``list[InvoiceItem]`` ordered by number, then cost type.
* ``visible_items(tenant=, user=, invoice=)`` → the ``InvoiceItem`` queryset the user may see (account-level
  items and their lines' items), unordered; no permission check (the caller's).
* ``invoice_tax_lines(invoice)`` → ``TaxSummary`` (per-rate base and tax, exempt total) for the PDF.
* ``provisional(tenant=, user=, coverage=, month=None)`` → ``Provisional``: the month's amounts so far
  per ``ChargeCategory`` from the last rating, tax, total, and ``daily`` (``{date: amount}``, every day of
  the month up to today: call and SMS charges as billed, by Japan-time start date — late usage of an earlier
  month on the 1st; monthly fees and data overage are month-level and appear in ``categories`` only).
* ``number_charges(tenant=, user=, invoice=)`` → ``list[NumberCharges]``: per number, the call charges
  at the standard rate (K-4, K-6: the 通常料金, tax excluded; a flat-rate line's free calls still show):
  ``domestic`` (fixed, IP, 117/171, 188/189, 104), ``international`` (incl. roaming), ``au``,
  ``other_mobile``, ``total`` = their sum. SMS is not a call and is not in these columns.
* ``call_charges(tenant=, user=, coverage=, month_from=, month_to=)`` → the visible calls' rollups
  (``usage.UsageRollup``, issue 10 §4) of those months, each with its column above as ``col`` (the base of
  ``number_charges`` and the Charges pages' per-number list).

The call figures here (``daily``, the per-number charges) read the rollups, never the raw calls; for the whole
account (a user not limited to some lines) ``provisional`` reads the sums kept beside them instead — the
invoice's ``InvoiceCategoryTotal`` rows and the month's ``UsageDayTotal`` rows — so its cost does not grow
with the account's lines or calls (issue 10 benchmarks).
* ``call_charge_months(tenant=, user=, coverage="japan", months=4)`` → ``list[MonthCalls]`` (K-4 overview).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.services import authorize, line_scope
from kaisen.billing.models import ChargeCategory, Invoice, InvoiceCategoryTotal, InvoiceItem, InvoiceStatus
from kaisen.billing.rating import currency_of, invoice_tax
from kaisen.billing.tax import TaxSummary, compute_tax
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.calendar import add_months, first_of_next_month, last_day_of_month, month_start, previous_month
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.tenancy.models import Tenant
from kaisen.usage.models import CallType, UsageDayTotal, UsageRollup

ZERO = Decimal(0)

#: The K-4 / K-6 column of each call type (SMS has none).
CALL_COLUMN: dict[str, str] = {
    CallType.DOMESTIC: "domestic", CallType.IP: "domestic", CallType.OTHER_CARRIER_SERVICE: "domestic",
    CallType.DIRECTORY_ASSISTANCE: "domestic",
    CallType.INTERNATIONAL: "international", CallType.ROAMING_OUTGOING: "international",
    CallType.ROAMING_INCOMING: "international",
    CallType.MOBILE_AU: "au", CallType.MOBILE: "other_mobile",
}


def _check_coverage(coverage: str) -> None:
    if coverage not in Coverage.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not a coverage.") % {"value": coverage},
                          field="coverage")


def invoice_list(*, tenant: Tenant, user: Any, months: int = 4, coverage: str | None = None) -> list[Invoice]:
    authorize(user=user, action=actions.BILLING_READ)
    qs = Invoice.objects.filter(tenant=tenant, month__gte=add_months(clock.today_jst(), 1 - max(months, 1)))
    if coverage:
        _check_coverage(coverage)
        qs = qs.filter(coverage=coverage)
    return list(qs.select_related("combined_into__tenant").order_by("-month", "coverage"))


def invoice_get(*, tenant: Tenant, user: Any, invoice_id: int) -> Invoice:
    authorize(user=user, action=actions.BILLING_READ)
    invoice = (Invoice.objects.filter(tenant=tenant, pk=invoice_id)
               .select_related("tenant", "combined_into__tenant").first())
    if invoice is None:
        raise NotFound(_("No such invoice."))
    return invoice


def invoice_items(*, tenant: Tenant, user: Any, invoice: Invoice) -> list[InvoiceItem]:
    authorize(user=user, action=actions.BILLING_READ)
    if invoice.tenant_id != tenant.pk:
        raise NotFound(_("No such invoice."))
    return list(visible_items(tenant=tenant, user=user, invoice=invoice).order_by("msisdn", "cost_type", "id"))


def visible_items(*, tenant: Tenant, user: Any, invoice: Invoice) -> QuerySet[InvoiceItem]:
    """The invoice's items ``user`` may see: every account-level item (no line) and the items of their lines
    (``line_scope``). No permission check: the caller made it."""
    qs = InvoiceItem.objects.filter(tenant=tenant, invoice=invoice)
    scope = line_scope(user=user, prefix="line__")
    if scope:
        qs = qs.filter(scope | Q(line__isnull=True))
    return qs


def invoice_tax_lines(invoice: Invoice) -> TaxSummary:
    """The per-rate tax of the invoice as stored items give it (the qualified-invoice block of the PDF)."""
    return invoice_tax(invoice)


@dataclass(frozen=True)
class Provisional:
    month: dt.date
    coverage: str
    currency: str
    status: str
    categories: dict[str, Decimal]
    subtotal: Decimal  # tax excluded
    tax: Decimal
    total: Decimal  # tax included, before coupons
    daily: dict[dt.date, Decimal] = field(default_factory=dict)
    invoice_id: int | None = None
    rated_at: dt.datetime | None = None


def provisional(*, tenant: Tenant, user: Any, coverage: str, month: dt.date | None = None) -> Provisional:
    authorize(user=user, action=actions.BILLING_READ)
    _check_coverage(coverage)
    today = clock.today_jst()
    start = month_start(month or today)
    invoice = Invoice.objects.filter(tenant=tenant, coverage=coverage, month=start).first()
    scope = line_scope(user=user, prefix="line__")
    categories: dict[str, Decimal] = {c: ZERO for c in ChargeCategory.values}
    currency = currency_of(coverage)
    sums: list[tuple[str, Decimal]] = []  # (tax class, amount): the tax is computed once per rate from these
    if invoice is not None:
        if scope:  # a user limited to some lines: their lines' items and the account's, summed here
            rows: Any = (visible_items(tenant=tenant, user=user, invoice=invoice).order_by()
                         .values("category", "tax_class").annotate(s=Sum("amount")))
        else:  # the whole account: the sums rating stored with the items (a few rows, whatever the lines)
            rows = (InvoiceCategoryTotal.objects.filter(invoice=invoice)
                    .values("category", "tax_class", s=F("amount")))
        for row in rows:
            amount = row["s"] or ZERO
            categories[row["category"]] = categories.get(row["category"], ZERO) + amount
            sums.append((row["tax_class"], amount))
        currency = invoice.currency
    summary = compute_tax(sums, currency=currency)
    last = min(last_day_of_month(start), today) if start <= today else start
    daily: dict[dt.date, Decimal] = {}
    day = start
    while day <= last:
        daily[day] = ZERO
        day += dt.timedelta(days=1)
    # The daily breakdown: the calls billed this month (adjustments of late usage included, on the month's
    # first day), without those the line's flat-rate calling makes free. The whole account reads the day
    # totals kept with the rollups (a row per day); a user limited to some lines their lines' rollups.
    if scope:
        per_day: Any = (UsageRollup.objects.filter(scope, tenant=tenant, billing_month=start, coverage=coverage,
                                                   flat_rate_free=False)
                        .order_by("day").values("day").annotate(s=Sum("charge")))
    else:
        per_day = (UsageDayTotal.objects.filter(tenant=tenant, billing_month=start, coverage=coverage,
                                                flat_rate_free=False)
                   .order_by("day").values("day", s=F("charge")))
    for day_row in per_day:
        # A call begun on the previous month's last day, billed in this one; late usage of an earlier month.
        key = max(day_row["day"], start)
        daily[key] = daily.get(key, ZERO) + (day_row["s"] or ZERO)
    return Provisional(
        month=start, coverage=coverage, currency=currency,
        status=invoice.status if invoice is not None else InvoiceStatus.ACCUMULATING,
        categories=categories, subtotal=summary.taxable_total + summary.exempt_total, tax=summary.tax_total,
        total=summary.total, daily=dict(sorted(daily.items())),
        invoice_id=invoice.pk if invoice is not None else None,
        rated_at=invoice.updated_at if invoice is not None else None)


@dataclass(frozen=True)
class NumberCharges:
    msisdn: str
    domestic: Decimal
    international: Decimal
    au: Decimal
    other_mobile: Decimal
    total: Decimal


def _column_case() -> Case:
    return Case(*[When(call_type=ct, then=Value(col)) for ct, col in CALL_COLUMN.items()],
                default=Value(""), output_field=CharField())


def per_number_calls() -> Q:
    """The one definition of a number's call charges (issue 14): the call types of the K-4 / K-6 columns —
    SMS is not a call. The per-number table, its total and the call-details page's call total all use it."""
    return Q(call_type__in=list(CALL_COLUMN))


#: SMS: listed on the call-details page, summed there on its own, never in the per-number call charges.
SMS_CALL_TYPES = (CallType.SMS, CallType.SMS_INTERNATIONAL)


def call_charges(*, tenant: Tenant, user: Any, coverage: str, month_from: dt.date, month_to: dt.date) -> Any:
    """The rollups of the calls (no SMS) billed in ``month_from``..``month_to`` on the tenant's lines of
    ``coverage`` that ``user`` may see (issue 10 §4: never the raw calls), each annotated with its K-4 / K-6
    column as ``col``; ``charge`` is their standard-rate sum. No permission check (the caller's)."""
    qs = UsageRollup.objects.filter(per_number_calls(), tenant=tenant, billing_month__gte=month_from,
                                    billing_month__lte=month_to, coverage=coverage)
    scope = line_scope(user=user, prefix="line__")
    if scope:
        qs = qs.filter(scope)
    return qs.annotate(col=_column_case())


def number_charges(*, tenant: Tenant, user: Any, invoice: Invoice) -> list[NumberCharges]:
    """K-4 / K-6 per-number call charges of the invoice's month and coverage (see the module docstring)."""
    authorize(user=user, action=actions.BILLING_READ)
    if invoice.tenant_id != tenant.pk:
        raise NotFound(_("No such invoice."))
    rows = (call_charges(tenant=tenant, user=user, coverage=invoice.coverage, month_from=invoice.month,
                          month_to=invoice.month)
            .values("msisdn", "col").annotate(s=Coalesce(Sum("charge"), ZERO, output_field=DecimalField()))
            .order_by("msisdn", "col"))
    per: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        per.setdefault(row["msisdn"], {})[row["col"]] = row["s"]
    out = []
    for msisdn, cols in per.items():
        values = {k: cols.get(k, ZERO) for k in ("domestic", "international", "au", "other_mobile")}
        out.append(NumberCharges(msisdn=msisdn, total=sum(values.values(), ZERO), **values))
    return out


@dataclass(frozen=True)
class MonthCalls:
    month: dt.date
    domestic: Decimal
    international: Decimal
    mobile: Decimal  # au + other mobile
    total: Decimal


def call_charge_months(*, tenant: Tenant, user: Any, coverage: str = Coverage.JAPAN,
                       months: int = 4) -> list[MonthCalls]:
    """K-4: the call charges (standard rate, tax excluded) of the last ``months`` months, newest first."""
    authorize(user=user, action=actions.BILLING_READ)
    _check_coverage(coverage)
    today = clock.today_jst()
    first = add_months(today, 1 - max(months, 1))
    rows = (call_charges(tenant=tenant, user=user, coverage=coverage, month_from=first, month_to=today)
            .values("billing_month", "col").annotate(s=Coalesce(Sum("charge"), ZERO, output_field=DecimalField())))
    per: dict[dt.date, dict[str, Decimal]] = {}
    for row in rows:
        per.setdefault(row["billing_month"], {})[row["col"]] = row["s"]
    out = []
    m = month_start(today)
    while m >= first:
        cols = per.get(m, {})
        mobile = cols.get("au", ZERO) + cols.get("other_mobile", ZERO)
        dom, intl = cols.get("domestic", ZERO), cols.get("international", ZERO)
        out.append(MonthCalls(month=m, domestic=dom, international=intl, mobile=mobile, total=dom + intl + mobile))
        m = previous_month(m)
    return out


def month_is_open(month: dt.date) -> bool:
    """True while the month has not ended (its invoice is still accumulating)."""
    return clock.today_jst() < first_of_next_month(month_start(month))
