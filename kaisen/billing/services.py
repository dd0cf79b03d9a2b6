"""Operator services of billing (issue 4 §2-§3): TTS rates, coupons, long-term discounts, and the scheduled
rating and close. The rating and the close themselves live in ``rating.py`` and ``close.py``.

What runs when (the scheduler of ``kaisen serve`` / ``kaisen worker``, ``kaisen.core.periodic``):

* every hour, ``rate_open_months``: rates the current month of every tenant and coverage (the provisional
  amounts of S-BILL-2), and the previous month too while it is not closed (late usage files);
* every hour, ``close_due``: from the 2nd business day of a month (the day amounts become final,
  S-BILL-1) closes the previous month of every tenant and coverage that is not closed yet, then marks
  the invoices whose issue date (4th business day) has come as ``invoiced``. A Global month without its
  TTS rate is skipped (logged) until the operator enters the rate.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from kaisen.billing.close import FINAL_BUSINESS_DAY, close_all, issue_due
from kaisen.billing.models import Coupon, Invoice, LongTermDiscount, LongTermRate, TtsRate
from kaisen.billing.rating import rate_month
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.calendar import add_months, month_start, nth_business_day_of_month, previous_month
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import Line
from kaisen.tenancy.models import Tenant

log = logging.getLogger("kaisen.billing")


def parse_month(value: str) -> dt.date:
    """``YYYY-MM`` (or ``YYYYMM``) → the first day of that month."""
    text = (value or "").strip().replace("/", "-")
    try:
        if len(text) == 6 and text.isdigit():
            return dt.date(int(text[:4]), int(text[4:]), 1)
        return dt.date.fromisoformat(f"{text}-01" if len(text) == 7 else text).replace(day=1)
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID_DATE, _("'%(value)s' is not a month (YYYY-MM).") % {"value": value},
                          field="month") from exc


def _decimal(value: object, *, field_name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not a number.") % {"value": value},
                          field=field_name) from exc
    if not number.is_finite() or number <= 0:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The amount must be greater than zero."), field=field_name)
    return number


@transaction.atomic
def tts_rate_set(*, month: dt.date, jpy_per_usd: object, entered_by: str = "") -> TtsRate:
    """Enter (or correct, while no Global invoice of the month is closed) the month's average TTS rate."""
    start = month_start(month)
    rate = _decimal(jpy_per_usd, field_name="jpy_per_usd").quantize(Decimal("0.0001"))
    if rate > Decimal("100000"):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The rate is yen per dollar; %(value)s is not plausible.")
                          % {"value": rate}, field="jpy_per_usd")
    existing = TtsRate.objects.select_for_update().filter(month=start).first()
    if existing is not None and existing.jpy_per_usd != rate and Invoice.objects.filter(
            coverage=Coverage.GLOBAL, month=start, closed_at__isnull=False).exists():
        raise DomainError(ErrorCode.INVOICE_CLOSED, _(
            "Global invoices of %(month)s are closed at %(rate)s; the rate can no longer change.")
            % {"month": f"{start:%Y-%m}", "rate": existing.jpy_per_usd})
    obj, _created = TtsRate.objects.update_or_create(month=start, defaults={"jpy_per_usd": rate,
                                                                            "entered_by": entered_by})
    return obj


@transaction.atomic
def coupon_add(*, tenant: Tenant, coverage: str, code: str, amount: object, purchased_on: dt.date,
               expires_on: dt.date | None = None, actor: str = "") -> Coupon:
    """Register a prepaid coupon the tenant bought (S-BILL-3); amount in the coverage's currency."""
    from kaisen.audit.services import audit_record

    if coverage not in tenant.coverages:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The tenant has no %(coverage)s coverage.")
                          % {"coverage": coverage}, field="coverage")
    value = _decimal(amount, field_name="amount").quantize(Decimal("0.01"))
    code = (code or "").strip()
    if not code:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the coupon code."), field="code")
    if expires_on is not None and expires_on < purchased_on:
        raise DomainError(ErrorCode.INVALID_DATE, _("The coupon cannot expire before it is bought."),
                          field="expires_on")
    try:
        with transaction.atomic():
            coupon = Coupon.objects.create(tenant=tenant, coverage=coverage, code=code, amount=value, balance=value,
                                           purchased_on=purchased_on, expires_on=expires_on)
    except IntegrityError as exc:
        raise DomainError(ErrorCode.DUPLICATE, _("Coupon code %(code)s exists already.") % {"code": code},
                          field="code") from exc
    audit_record(action="billing.coupon.add", tenant=tenant, actor=actor or "kaisen admin billing", target=coupon,
                 changes={"code": [None, code], "amount": [None, str(value)], "coverage": [None, coverage]})
    return coupon


@transaction.atomic
def long_term_discount_add(*, tenant: Tenant, msisdn: str, term_months: int, first_month: dt.date,
                           actor: str = "") -> LongTermDiscount:
    """Commit a line of a Japan plan to ``term_months`` from ``first_month`` (S-BILL-4)."""
    from kaisen.audit.services import audit_record

    line = Line.objects.filter(tenant=tenant, msisdn=msisdn).select_related("plan").first()
    if line is None:
        raise DomainError(ErrorCode.NOT_FOUND, _("No line with number %(msisdn)s.") % {"msisdn": msisdn})
    if line.plan.coverage != Coverage.JAPAN:
        raise DomainError(ErrorCode.LINE_NOT_ELIGIBLE, _("Long-term discounts exist for Japan plans only."))
    rate = (LongTermRate.objects.filter(plan=line.plan, term_months=term_months)
            .order_by(F("valid_from").desc()).first())  # names the plan and term; rating picks the month's version
    if rate is None:
        terms = sorted(set(LongTermRate.objects.filter(plan=line.plan).values_list("term_months", flat=True)))
        raise DomainError(ErrorCode.INVALID_OPTION, _("Plan %(plan)s has no %(term)s-month term (offered: %(terms)s).")
                          % {"plan": line.plan.code, "term": term_months, "terms": terms or "-"}, field="term_months")
    start = month_start(first_month)
    end = add_months(start, max(term_months, 1) - 1)
    if LongTermDiscount.objects.filter(line=line, starts_on__lte=end, ends_on__gte=start).exists():
        raise DomainError(ErrorCode.DUPLICATE, _("The line already has a committed term in these months."))
    discount = LongTermDiscount.objects.create(tenant=tenant, line=line, rate=rate, starts_on=start, ends_on=end)
    audit_record(action="billing.long_term_discount.add", tenant=tenant, actor=actor or "kaisen admin billing",
                 target=discount, changes={"msisdn": [None, msisdn], "term_months": [None, term_months],
                                           "from": [None, f"{start:%Y-%m}"], "to": [None, f"{end:%Y-%m}"]})
    return discount


def rate_open_months(*, today: dt.date | None = None) -> int:
    """Scheduled: rate the current month, and the previous one while it is open, of every tenant and
    coverage: their items rewritten from the rollups (the calls were rated when stored, issue 10 §4). Returns
    the number of invoices rewritten."""
    from kaisen.billing.versions import plan_catalogue_sync

    today = today or clock.today_jst()
    plan_catalogue_sync(today=today)  # a plan fee version that took effect shows in the plan catalogue
    months = [month_start(today), previous_month(today)]
    rated = 0
    for tenant in Tenant.objects.filter(is_active=True).order_by("pk"):
        for coverage in tenant.coverages:
            for month in months:
                if Invoice.objects.filter(tenant=tenant, coverage=coverage, month=month,
                                          closed_at__isnull=False).exists():
                    continue
                rate_month(tenant=tenant, coverage=coverage, month=month)
                rated += 1
    return rated


def close_due(*, today: dt.date | None = None) -> int:
    """Scheduled: from the 2nd business day of a month, close the previous month where it is still open;
    then issue the invoices whose issue date has come. Returns invoices closed or issued."""
    today = today or clock.today_jst()
    done = 0
    if today >= nth_business_day_of_month(today.year, today.month, FINAL_BUSINESS_DAY):
        month = previous_month(today)
        open_tenants = [t for t in Tenant.objects.filter(is_active=True).order_by("pk")
                        if Invoice.objects.filter(tenant=t, month=month, closed_at__isnull=False).count()
                        < len(t.coverages)]
        for result in close_all(month=month, today=today, actor="scheduler", tenants=open_tenants):
            if isinstance(result, DomainError):
                log.warning("close of %s skipped: %s %s", f"{month:%Y-%m}", result.code, result.details)
            else:
                done += 1
    return done + issue_due(today=today)
