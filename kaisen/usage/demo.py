"""The demo's usage history (issue 4 §1): the simulated carrier writes the demo tenants' usage files for the
last 6 months and the current month up to yesterday, and they are imported through the real importer.

Called by ``kaisen.demo.demo_create`` after the lines exist (the billing demo step rates and closes these
months after it); ``demo_usage_delete`` runs in ``demo_delete`` before the lines go.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kaisen.carriers.usage_files import SimLine, month_starts, write_calls, write_data
from kaisen.core.calendar import add_months
from kaisen.lines.models import Line, LineStatus
from kaisen.tenancy.models import Tenant
from kaisen.usage.ingest import usage_file_import_path
from kaisen.usage.models import CallRecord, DataUsageDaily, UnmatchedCall, UnmatchedDataUsage, UsageFile

DEMO_FILE_PREFIX = "demo-"
HISTORY_MONTHS = 6
#: Lines that get a usage history; the others are idle lines. Keeps `kaisen demo` within ~30 s more.
MAX_USAGE_LINES = 1000


def history_start(today: dt.date, months: int = HISTORY_MONTHS) -> dt.date:
    return add_months(today, -months)


def _sim_lines(tenants: Sequence[Tenant], today: dt.date) -> list[SimLine]:
    yesterday = today - dt.timedelta(days=1)
    qs = (Line.objects.filter(tenant__in=tenants, msisdn__isnull=False, started_on__isnull=False)
          .exclude(status=LineStatus.NOT_ACTIVATED).select_related("plan").order_by("id"))
    ids = list(qs.values_list("id", flat=True))
    step = max(1, -(-len(ids) // MAX_USAGE_LINES))
    chosen = set(ids[::step])  # every k-th line, so each tenant gets its share
    out = []
    for ln in qs:
        if ln.pk not in chosen:
            continue
        assert ln.msisdn is not None and ln.started_on is not None
        to = yesterday
        if ln.status == LineStatus.CANCELLED and ln.scheduled_end_on:
            to = min(yesterday, ln.scheduled_end_on)
        elif ln.status == LineStatus.SUSPENDED:
            to = yesterday - dt.timedelta(days=10 + ln.pk % 40)  # suspended some time ago
        out.append(SimLine(msisdn=ln.msisdn, iccid=ln.iccid, sim_type=ln.sim_type,
                           allowance_mb=ln.data_cap_mb or ln.plan.data_allowance_mb, active_from=ln.started_on,
                           active_to=to, tenant_key=ln.tenant_id))
    return out


def demo_usage_create(*, tenants: Sequence[Tenant], today: dt.date, seed: int) -> dict[str, Any]:
    """Generate and import the demo tenants' usage history; returns what was loaded and how long it took."""
    started = time.perf_counter()
    first = history_start(today)
    last = today - dt.timedelta(days=1)
    lines = _sim_lines(tenants, today)
    figures: dict[str, Any] = {"lines": len(lines), "calls": 0, "data_rows": 0, "files": 0}
    with tempfile.TemporaryDirectory(prefix="kaisen-usage-") as tmp:
        for month in month_starts(first, last):
            for kind, writer in (("calls", write_calls), ("data", write_data)):
                path = Path(tmp) / f"{DEMO_FILE_PREFIX}{kind}-{month:%Y%m}-{seed}.csv"
                writer(path, lines, month, seed=seed, first=first, last=last)
                result = usage_file_import_path(path=path, kind=kind, imported_by="kaisen demo")
                figures["calls" if kind == "calls" else "data_rows"] += result.file.rows_loaded
                figures["files"] += 1
    figures["seconds"] = round(time.perf_counter() - started, 2)
    return figures


def demo_usage_delete(*, tenants: Any) -> None:
    """Remove the demo tenants' usage and the demo's usage files (before their lines are deleted)."""
    CallRecord.objects.filter(tenant__in=tenants).delete()
    DataUsageDaily.objects.filter(tenant__in=tenants).delete()
    demo_files = UsageFile.objects.filter(name__startswith=DEMO_FILE_PREFIX)
    UnmatchedCall.objects.filter(source_file__in=demo_files).delete()
    UnmatchedDataUsage.objects.filter(source_file__in=demo_files).delete()
    keep = set(CallRecord.objects.filter(source_file__in=demo_files).values_list("source_file", flat=True).distinct())
    keep |= set(DataUsageDaily.objects.filter(source_file__in=demo_files).values_list("source_file", flat=True)
                .distinct())
    demo_files.exclude(pk__in=keep).delete()
