"""The price label of a plan's fee version in force (issue 14), handed to ``kaisen.procedures.prices`` by
``BillingConfig.ready()`` so the plan-change form offers a Global plan at its USD fee, not at "0円"."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kaisen.billing.models import PlanTariff


def plan_price_label(plan: Any, day: dt.date) -> str | None:
    """``US$30.00`` for a Global plan's USD version in force on ``day``, ``¥3,480`` for a yen version (or the
    catalogue fee it falls back to, as rating does); ``None`` when no version is in force."""
    tariff = PlanTariff.objects.filter(plan=plan, valid_from__lte=day).order_by("-valid_from").first()
    if tariff is None:
        return None
    if tariff.usd_monthly_fee is not None:
        return f"US${Decimal(tariff.usd_monthly_fee).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    from kaisen.core.templatetags.kaisen_ui import yen

    fee = tariff.jpy_monthly_fee if tariff.jpy_monthly_fee is not None else plan.monthly_fee
    return str(yen(fee)) if fee else None
