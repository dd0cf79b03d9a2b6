"""What the usage app needs from the apps above it (docs/decisions/0006-layers.md); usage never imports them.

- ``call_rating`` (issue 10 §4): calls are rated in the statement that stores them, so the loader needs
  rating's SQL. Billing fills this slot in its ``AppConfig.ready()``.
- ``after_import`` (issue 13 §3: usage alert rules): higher apps register a callable taking the imported
  ``UsageFile``. Called after the import's transaction committed; an error in one is logged and never undoes
  or fails the import.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kaisen.core.registry import Providers, Slot

log = logging.getLogger(__name__)

after_import: Providers[Callable[[Any], Any]] = Providers()


def run_after_import(usage_file: Any) -> None:
    for provider in after_import.all():
        try:
            provider(usage_file)
        except Exception:
            log.exception("after-import hook failed for usage file %s", getattr(usage_file, "pk", None))


@dataclass(frozen=True)
class CallRating:
    #: ``rated_select(source)``: ``SELECT c.*, rated_charge, bill_tenant_id, coverage, flat_rate_free FROM
    #: (source) c …`` — each call of ``source`` (columns of ``CallRecord``: line_id, tenant_id, msisdn,
    #: started_at, duration_ds, units, call_type, …) rated with the plan, options and tariff in force at its
    #: start.
    rated_select: Callable[[str], str]
    #: ``late_targets(months)``: for each (tenant, coverage, month) among ``months`` whose invoice is closed,
    #: the next open month that bills its late usage as an adjustment: rows (tenant_id, coverage, month,
    #: target_month). The data loader asks it too: daily data of such a month marks its line (``LateDataUsage``).
    late_targets: Callable[[Iterable[dt.date]], list[tuple[int, str, dt.date, dt.date]]]


call_rating: Slot[CallRating] = Slot(
    "Call rating is not registered: kaisen.billing must be in INSTALLED_APPS (it registers it in ready()).")
