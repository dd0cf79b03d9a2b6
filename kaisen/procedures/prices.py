"""The price a plan is offered at on the plan-change form (issue 14: a Global plan was offered as "0円").

A plan's price in force is a ``billing`` matter (``PlanTariff`` versions: a yen fee for Japan plans, a USD fee
for Global plans), but ``billing`` sits above ``procedures`` and must not be imported from here
(docs/decisions/0006-layers.md). ``BillingConfig.ready()`` registers a provider instead, as payments does with
``kaisen.billing.extra_fees``.

A provider is called as ``provider(plan, day)`` and returns the price label (``¥3,480`` / ``US$30.00``) or
``None`` when it has no price for the plan. Without a provider's answer the label is the plan's catalogue
fee in yen when the plan is a Japan plan with one; otherwise no price is shown (never "0円").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kaisen.core.registry import Providers

PriceLabelProvider = Callable[[Any, dt.date], "str | None"]

_providers: Providers[PriceLabelProvider] = Providers()
register = _providers.register


def plan_price_label(plan: Any, day: dt.date) -> str | None:
    """The monthly fee ``plan`` is offered at on ``day`` as a label, or ``None`` when none is known."""
    for provider in _providers.all():
        label = provider(plan, day)
        if label:
            return label
    from kaisen.carriers.models import Coverage
    from kaisen.core.templatetags.kaisen_ui import yen

    if plan.coverage == Coverage.JAPAN and plan.monthly_fee:
        return str(yen(plan.monthly_fee))
    return None
