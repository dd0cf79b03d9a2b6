"""The demo's billing (issue 4 §2-§3): tariffs of the demo plans, a Global plan, TTS rates, coupons and
long-term discounts, then the past months rated and closed and the current month rated (provisional).

Called by ``kaisen.demo.demo_create`` after the usage step (``kaisen.usage.demo``), so the closed months
have calls and data usage behind them. Closed invoices are left ``final`` / ``invoiced``: marking some paid
is the payments demo's job. ``demo_billing_delete`` runs in ``demo_delete`` before the lines go (invoice
items reference lines): the demo reset is the only thing that ever deletes invoices.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Q

from kaisen.billing.close import close_month
from kaisen.billing.models import (
    TARIFF_EPOCH,
    CombinedBilling,
    Coupon,
    CouponUse,
    Invoice,
    InvoiceItem,
    LongTermDiscount,
    LongTermRate,
    PlanTariff,
    TtsRate,
)
from kaisen.billing.rating import rate_month
from kaisen.billing.services import coupon_add, long_term_discount_add
from kaisen.carriers.models import Carrier, Coverage
from kaisen.lines.history import lines_record_change, start_of_day_jst
from kaisen.lines.models import Line, LinePeriodReason, LineStatus, Plan, SimType
from kaisen.tenancy.models import Tenant

HISTORY_MONTHS = 6
GLOBAL_PLAN = dict(code="G-IOT-3G", name="グローバル IoT 3GB", name_en="Global IoT 3 GB", carrier=Carrier.DOCOMO,
                   coverage=Coverage.GLOBAL, data_allowance_mb=3072, has_data_cap=False, monthly_fee=0)
GLOBAL_PLAN_USD = Decimal("12.00")
#: (plan code, term months, discounted fee) — S-BILL-4, Japan plans only.
LONG_TERM_RATES = [("D-DATA-3G", 12, 792), ("D-DATA-3G", 24, 748), ("D-DATA-20G", 12, 1782),
                   ("D-DATA-20G", 24, 1683), ("S-DATA-5G", 12, 990), ("A-DATA-10G", 12, 1386)]
FLAT_RATE_PLANS = ["A-VOICE-UNL"]
#: Plausible monthly average TTS rates (JPY per USD); the demo enters the past months.
TTS_BASE = Decimal("149.50")


def _months(today: dt.date, n: int) -> list[dt.date]:
    first = today.replace(day=1)
    out = []
    for _i in range(n):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        out.append(first)
    return sorted(out)


def _catalogue() -> None:
    for code in FLAT_RATE_PLANS:
        plan = Plan.objects.filter(code=code).first()
        if plan is not None:
            PlanTariff.objects.update_or_create(plan=plan, valid_from=TARIFF_EPOCH,
                                                defaults={"includes_flat_rate_calling": True})
    for code, term, fee in LONG_TERM_RATES:
        plan = Plan.objects.filter(code=code).first()
        if plan is not None:
            LongTermRate.objects.update_or_create(plan=plan, term_months=term, valid_from=TARIFF_EPOCH,
                                                  defaults={"monthly_fee": fee})
    g, _ = Plan.objects.update_or_create(code=GLOBAL_PLAN["code"], defaults={
        k: v for k, v in GLOBAL_PLAN.items() if k != "code"})
    PlanTariff.objects.update_or_create(plan=g, valid_from=TARIFF_EPOCH, defaults={"usd_monthly_fee": GLOBAL_PLAN_USD})


def demo_billing_create(*, tenants: Sequence[Tenant], today: dt.date, seed: int) -> dict[str, Any]:
    """Set up the demo's billing data and close the past months; returns figures."""
    started = time.perf_counter()
    rng = random.Random(f"{seed}:billing")
    _catalogue()
    months = _months(today, HISTORY_MONTHS)
    for i, month in enumerate(months):
        TtsRate.objects.update_or_create(month=month, defaults={
            "jpy_per_usd": TTS_BASE + Decimal(rng.randint(-300, 300)) / 100 + Decimal(i) / 4,
            "entered_by": "kaisen demo"})
    global_plan = Plan.objects.get(code=GLOBAL_PLAN["code"])
    for tenant in tenants:
        if tenant.coverage_global:
            # A few docomo data SIMs of this tenant travel abroad on the Global plan (S-COV-1).
            ids = list(Line.objects.filter(tenant=tenant, plan__code="D-DATA-3G", sim_type=SimType.DATA,
                                           data_cap_mb__isnull=True)
                       .exclude(status=LineStatus.NOT_ACTIVATED).order_by("id").values_list("id", flat=True))[:40:2]
            Line.objects.filter(pk__in=ids).update(plan=global_plan)
            # In the line history they moved to the Global plan when the demo's billing history begins.
            lines_record_change(line_ids=ids, at=start_of_day_jst(months[0]), reason=LinePeriodReason.DEMO)
    first = months[0]
    by_id = {t.public_id: t for t in tenants}
    # Committed terms on some docomo data lines of the second tenant (S-BILL-4).
    medical = by_id.get("OP2048163264")
    if medical is not None:
        for ln in (Line.objects.filter(tenant=medical, plan__code__in=["D-DATA-3G", "D-DATA-20G"],
                                       status=LineStatus.ACTIVE, started_on__lte=first).order_by("id")[:30]):
            assert ln.msisdn is not None
            long_term_discount_add(tenant=medical, msisdn=ln.msisdn, term_months=24, first_month=first,
                                   actor="kaisen demo")
    # A prepaid coupon larger than the first months of the smallest tenant (S-BILL-3).
    agri = by_id.get("OP5120003387")
    if agri is not None:
        coupon_add(tenant=agri, coverage=Coverage.JAPAN, code=f"DEMO-CPN-{agri.public_id}", amount=Decimal(500_000),
                   purchased_on=first - dt.timedelta(days=20), expires_on=None, actor="kaisen demo")
    # The Kansai account of みなと物流 is billed on the head office's invoice (S-BILL-5). The demo writes the
    # arrangement as if the operator had set it up before its history began (the service only accepts
    # months not closed yet, which the demo's past months are not).
    head, kansai = by_id.get("OP0123456789"), by_id.get("OP3141592653")
    if head is not None and kansai is not None:
        CombinedBilling.objects.create(payer=head, member=kansai, coverage=Coverage.JAPAN, first_month=first,
                                       created_by="kaisen demo")
    closed = 0
    for tenant in tenants:
        for coverage in tenant.coverages:
            for month in months:
                close_month(tenant=tenant, coverage=coverage, month=month, today=today, actor="kaisen demo")
                closed += 1
            rate_month(tenant=tenant, coverage=coverage, month=today.replace(day=1))
    return {"invoices_closed": closed, "seconds": round(time.perf_counter() - started, 2)}


def demo_billing_delete(*, tenants: Any) -> None:
    """Remove the demo tenants' invoices, coupons and discounts (demo reset only)."""
    invoices = Invoice.objects.filter(tenant__in=tenants)
    CombinedBilling.objects.filter(Q(payer__in=tenants) | Q(member__in=tenants)).delete()
    invoices.update(combined_into=None)  # a combined month protects the invoice it is billed on
    CouponUse.objects.filter(invoice__in=invoices).delete()
    InvoiceItem.objects.filter(invoice__in=invoices).delete()
    invoices.delete()
    Coupon.objects.filter(tenant__in=tenants).delete()
    LongTermDiscount.objects.filter(tenant__in=tenants).delete()
