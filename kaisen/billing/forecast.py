"""The projected month-end amount of the current month per coverage (issue 13 §4). A projection, not a bill.

From the month's provisional amounts (what rating stored on the accumulating invoice, by category): the
monthly fees and discounts (categories ``fee`` and ``discount``) are counted once, as they are; the usage
(calls, SMS, data) so far is extended at its run rate: usage × days in the month ÷ days so far (today
counted). Amounts are tax excluded, in the invoice currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum

from kaisen.billing.models import ChargeCategory, Invoice, InvoiceCategoryTotal
from kaisen.billing.rating import currency_of
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.calendar import last_day_of_month, month_start

ZERO = Decimal(0)
ONCE = frozenset({ChargeCategory.FEE, ChargeCategory.DISCOUNT})


@dataclass(frozen=True)
class Forecast:
    coverage: str
    month: dt.date
    currency: str
    days_so_far: int
    days_in_month: int
    fixed: Decimal
    usage_so_far: Decimal
    projected: Decimal

    @property
    def coverage_label(self) -> str:
        return str(Coverage(self.coverage).label)

    def as_dict(self) -> dict[str, Any]:
        return {"coverage": self.coverage, "month": f"{self.month:%Y-%m}", "currency": self.currency,
                "days_so_far": self.days_so_far, "days_in_month": self.days_in_month,
                "monthly_fees": str(self.fixed), "usage_so_far": str(self.usage_so_far),
                "projected_total": str(self.projected), "is_projection": True}


def project(*, categories: dict[str, Decimal], coverage: str, currency: str, today: dt.date) -> Forecast:
    start = month_start(today)
    days_in = last_day_of_month(today).day
    so_far = today.day
    fixed = sum((v for c, v in categories.items() if c in ONCE), ZERO)
    usage = sum((v for c, v in categories.items() if c not in ONCE), ZERO)
    step = Decimal(1) if currency == "JPY" else Decimal("0.01")
    projected = (fixed + usage * days_in / so_far).quantize(step, rounding=ROUND_HALF_UP)
    return Forecast(coverage=coverage, month=start, currency=currency, days_so_far=so_far, days_in_month=days_in,
                    fixed=fixed, usage_so_far=usage, projected=projected)


def forecast_for_tenant(*, tenant_id: int, coverage: str, today: dt.date | None = None) -> Forecast | None:
    """The whole account's projection (for the budget check; no user)."""
    today = today or clock.today_jst()
    invoice = Invoice.objects.filter(tenant_id=tenant_id, coverage=coverage, month=month_start(today)).first()
    if invoice is None:
        return None
    rows = (InvoiceCategoryTotal.objects.filter(invoice=invoice).values("category").annotate(s=Sum("amount"))
            .order_by())
    categories = {r["category"]: r["s"] or ZERO for r in rows}
    return project(categories=categories, coverage=coverage, currency=invoice.currency or currency_of(coverage),
                   today=today)
