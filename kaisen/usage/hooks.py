"""What the usage app needs from billing, a layer above it (docs/decisions/0006-layers.md; issue 10 §4).

Calls are rated in the statement that stores them, so the loader needs rating's SQL. Billing fills this slot
in its ``AppConfig.ready()``; usage never imports billing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kaisen.core.registry import Slot


@dataclass(frozen=True)
class CallRating:
    #: ``rated_select(source)``: ``SELECT c.*, rated_charge, bill_tenant_id, coverage, flat_rate_free FROM
    #: (source) c …`` — each call of ``source`` (columns of ``CallRecord``: line_id, tenant_id, msisdn,
    #: started_at, duration_ds, units, call_type, …) rated with the plan, options and tariff in force at its
    #: start.
    rated_select: Callable[[str], str]
    #: ``late_targets(months)``: for each (tenant, coverage, month) among ``months`` whose invoice is closed,
    #: the next open month that bills its late usage as an adjustment: rows (tenant_id, coverage, month,
    #: target_month).
    late_targets: Callable[[Iterable[dt.date]], list[tuple[int, str, dt.date, dt.date]]]


call_rating: Slot[CallRating] = Slot(
    "Call rating is not registered: kaisen.billing must be in INSTALLED_APPS (it registers it in ready()).")
