"""The per-process snapshot of the controls (issue 15 §2: in force without a restart, in every process).

Each process keeps one snapshot of the windows, hours, closed days and switched-off functions. At most every
``KAISEN_CONTROLS_CACHE_SECONDS`` (default 3) it reads :class:`~kaisen.controls.models.ControlsVersion` (one
row, one query) and reloads the snapshot if another process changed something. A change made in this process
clears the snapshot at commit. So a change is seen everywhere within those seconds.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F


@dataclass(frozen=True)
class WindowInfo:
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    announce_from: dt.datetime
    functions: frozenset[str]
    all_tenants: bool
    tenant_ids: frozenset[int]
    reads_allowed: bool
    reason_ja: str
    reason_en: str

    def applies_to(self, tenant_id: int | None) -> bool:
        return self.all_tenants or (tenant_id is not None and tenant_id in self.tenant_ids)

    def active(self, at: dt.datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass
class Snapshot:
    version: int
    windows: list[WindowInfo] = field(default_factory=list)
    #: function -> [(effective_from, "HH:MM-HH:MM")], newest first
    hours: dict[str, list[tuple[dt.datetime, str]]] = field(default_factory=dict)
    #: (yearly, day) -> [(effective_from, closed)], newest first (a yearly day is stored in the year 2000)
    closed_days: dict[tuple[bool, dt.date], list[tuple[dt.date, bool]]] = field(default_factory=dict)
    switched_off: set[tuple[int, str]] = field(default_factory=set)
    #: operator-wide switches that have a row: function -> enabled
    operator_switches: dict[str, bool] = field(default_factory=dict)


_lock = threading.Lock()
_snapshot: Snapshot | None = None
_checked_at = 0.0


def ttl() -> float:
    return float(os.environ.get("KAISEN_CONTROLS_CACHE_SECONDS", "3"))


def _version() -> int:
    from kaisen.controls.models import ControlsVersion

    row = ControlsVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return int(row or 0)


def _load(version: int) -> Snapshot:
    from kaisen.controls.models import ClosedDay, MaintenanceWindow, OperatorSwitch, ReceptionHours, ServiceSwitch

    snap = Snapshot(version=version)
    for window in MaintenanceWindow.objects.filter(cancelled_at__isnull=True).prefetch_related("tenants"):
        snap.windows.append(WindowInfo(
            id=window.pk, starts_at=window.starts_at, ends_at=window.ends_at, announce_from=window.announce_from,
            functions=frozenset(window.functions or []), all_tenants=window.all_tenants,
            tenant_ids=frozenset(t.pk for t in window.tenants.all()), reads_allowed=window.reads_allowed,
            reason_ja=window.reason_ja, reason_en=window.reason_en))
    for row in ReceptionHours.objects.order_by("function", "-effective_from", "-id"):
        snap.hours.setdefault(row.function, []).append(
            (row.effective_from, f"{row.opens:%H:%M}-{row.closes:%H:%M}"))
    for day, yearly, closed, effective_from in ClosedDay.objects.order_by("-effective_from", "-id").values_list(
            "day", "yearly", "closed", "effective_from"):
        snap.closed_days.setdefault((yearly, day), []).append((effective_from, closed))
    snap.switched_off = set(ServiceSwitch.objects.filter(enabled=False).values_list("tenant_id", "function"))
    snap.operator_switches = dict(OperatorSwitch.objects.values_list("function", "enabled"))
    return snap


def get() -> Snapshot:
    """The current snapshot (reloaded when another process changed the controls)."""
    global _snapshot, _checked_at
    now = time.monotonic()
    snap = _snapshot
    if snap is not None and now - _checked_at < ttl():
        return snap
    version = _version()
    if snap is None or snap.version != version:
        snap = _load(version)
    with _lock:
        _snapshot, _checked_at = snap, now
    return snap


def clear() -> None:
    """Forget the snapshot (the next read reloads it)."""
    global _snapshot
    with _lock:
        _snapshot = None


def bump() -> None:
    """Mark a change, in the caller's transaction: other processes reload within ``ttl()`` seconds, this
    one at commit."""
    from kaisen.controls.models import ControlsVersion

    if not ControlsVersion.objects.filter(pk=1).update(version=F("version") + 1):
        ControlsVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    clear()
    transaction.on_commit(clear)
