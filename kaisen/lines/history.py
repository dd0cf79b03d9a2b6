"""Writing a line's history (issue 10 §1): effective-dated intervals of its billing-relevant state.

Every path that changes a line's plan, status, voice options, data cap, SIM (size, ICCID), number, carrier
or tenant calls one of these functions in the same transaction as the change, after saving the line:

- ``line_history_open`` — a new line gets its first interval;
- ``line_record_change`` — one line changed: the open interval is closed at ``at`` and a new one opened
  from the line's state (nothing is written when none of the kept fields changed);
- ``lines_record_change`` — the same for a set of lines (SIM transfer, demo): a handful of queries
  whatever the number of lines;
- ``line_history_open_missing`` — set-wise ``INSERT … SELECT`` of the first intervals of lines written
  in bulk (demo, benchmarks), the same statement the migration ran for the lines that existed then.

The effective-time rule (``docs/billing.md``, "Line history"): an interval starts when the change is in
force for billing, not when Kaisen got round to it. A procedure's change starts at the order's scheduled
moment (``Order.due_at``: a plan change for the 1st of next month starts at 00:00 JST on the 1st even if the
engine applies it at 00:05 or a day late); a cancellation starts the day after the end date at 00:00 JST
(the line is in service through its end date). A change that names an earlier moment than the start of
the line's open interval does not rewrite the past: it takes effect at that start, replacing the open
interval's state. Back-office changes and SIM transfers start when they are made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection

from kaisen.core import clock
from kaisen.core.registry import Slot
from kaisen.events import catalogue
from kaisen.events.services import event_emit
from kaisen.lines.models import Line, LinePeriod, LinePeriodReason

#: The fields of ``Line`` an interval keeps (besides the plan's coverage).
KEPT_FIELDS = ("tenant_id", "plan_id", "carrier", "status", "voice_options", "data_cap_mb", "sim_size", "iccid",
               "msisdn")
#: Names of the ``Line`` fields whose change makes a new interval (as ``save(update_fields=...)`` names them).
KEPT_LINE_FIELDS = frozenset({"tenant", "plan", "carrier", "status", "voice_options", "data_cap_mb", "sim_size",
                              "iccid", "msisdn"})
_CHUNK = 1000
#: The fields of an interval that the rating of calls reads (``billing.rating.rated_calls_select``: the tenant
#: billed, the plan — its coverage, call rates and fees — and the voice options, for flat-rate calling; besides
#: the interval's bounds). A change of only the other kept fields (status, carrier, SIM, number, data cap) prices
#: no call differently, so it asks for no re-rating (issue 11 §1: a suspend or resume re-rated the line's calls,
#: 4 statements per order for nothing). ``tests/billing/test_rerate_scope.py`` checks the rating reads no other.
RATED_FIELDS = ("tenant_id", "plan_id", "coverage", "voice_options")

#: Called with (line IDs, the earliest moment their new intervals start — None: from their first interval)
#: after a change was recorded, in the same transaction: billing re-rates those lines' calls from that day in
#: the months still open (issue 10 §4). Billing, a layer above, fills it (docs/decisions/0006-layers.md).
history_changed: Slot[Callable[[list[int], dt.datetime | None], None]] = Slot(
    "Line history re-rating is not registered: kaisen.billing must be in INSTALLED_APPS.")


def start_of_day_jst(day: dt.date) -> dt.datetime:
    """00:00 Japan time of ``day`` (the start of a business day)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=clock.JST)


def opening_time(line: Line) -> dt.datetime:
    """Where a line's history starts: 00:00 JST of its start date, else the moment it was registered."""
    if line.started_on is not None:
        return start_of_day_jst(line.started_on)
    return line.created_at or clock.now()


def _state(line: Line) -> dict[str, Any]:
    state = {name: getattr(line, name) for name in KEPT_FIELDS}
    state["voice_options"] = dict(line.voice_options or {})
    state["coverage"] = line.plan.coverage
    return state


def _same(period: LinePeriod, state: dict[str, Any], names: Iterable[str] | None = None) -> bool:
    return all(getattr(period, name) == state[name] for name in (state if names is None else names))


def _require_aware(at: dt.datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("line history: the effective time must be timezone-aware")


def line_history_open(*, line: Line, reason: str = LinePeriodReason.REGISTERED,
                      at: dt.datetime | None = None) -> LinePeriod:
    """The first interval of a line just saved: from ``at`` (default ``opening_time(line)``), open-ended."""
    start = at or opening_time(line)
    _require_aware(start)
    return LinePeriod.objects.create(line=line, valid_from=start, reason=reason, **_state(line))


def _close_open(line_ids: list[int], at: dt.datetime) -> list[LinePeriod]:
    """Close at ``at`` the open intervals of ``line_ids`` that started before it, with one ``UPDATE …
    RETURNING`` (issue 11 §1: it was a ``SELECT`` of the open intervals, then an ``UPDATE``); returns them as
    they were, but for ``valid_to``."""
    if not line_ids:
        return []
    meta, q = LinePeriod._meta, connection.ops.quote_name
    columns = ", ".join(q(f.column or f.name) for f in meta.concrete_fields)
    sql = (f"UPDATE {q(meta.db_table)} SET valid_to = %s "  # noqa: S608 - fixed SQL and bound parameters
           f"WHERE valid_to IS NULL AND valid_from < %s "
           f"AND line_id IN ({', '.join(['%s'] * len(line_ids))}) RETURNING {columns}")
    when = connection.ops.adapt_datetimefield_value(at)
    return list(LinePeriod.objects.raw(sql, [when, when, *line_ids]))


def _record(lines: Iterable[Line], *, at: dt.datetime, reason: str, order_id: int | None) -> list[LinePeriod]:
    lines = list(lines)
    # The usual change (the open interval started before ``at`` and the state differs) costs this UPDATE and the
    # INSERT below. The open intervals it did not close (none, or one starting at or after ``at``) are read
    # with a SELECT; an interval it closed whose state did not change is opened again (one UPDATE).
    closed = {p.line_id: p for p in _close_open([ln.pk for ln in lines], at)}
    open_periods = dict(closed)
    rest = [ln.pk for ln in lines if ln.pk not in closed]
    if rest:
        open_periods.update({p.line_id: p for p in LinePeriod.objects.filter(line__in=rest, valid_to__isnull=True)})
    to_reopen: list[int] = []
    to_replace: list[int] = []
    new: list[LinePeriod] = []
    rerate: set[int] = set()  # lines whose calls may be priced differently from now on
    for line in lines:
        state = _state(line)
        current = open_periods.get(line.pk)
        start = at
        if current is None or not _same(current, state, RATED_FIELDS):
            rerate.add(line.pk)
        if current is not None:
            if _same(current, state):
                if line.pk in closed:
                    to_reopen.append(current.pk)
                continue
            if line.pk not in closed:
                # Not before the open interval's start: the past stays as recorded (module docstring).
                start = current.valid_from
                to_replace.append(current.pk)
        new.append(LinePeriod(line=line, valid_from=start, reason=reason, order_id=order_id, **state))
    if to_reopen:
        LinePeriod.objects.filter(pk__in=to_reopen).update(valid_to=None)
    if to_replace:
        LinePeriod.objects.filter(pk__in=to_replace).delete()
    if reason != LinePeriodReason.DEMO:
        for line in lines:
            current = open_periods.get(line.pk)
            if current is not None and current.status != line.status:
                # issue 13 §1: the event goes out with the change, in its transaction.
                event_emit(tenant_id=line.tenant_id, type=catalogue.LINE_STATUS_CHANGED, line_id=line.pk, data={
                    "line_id": line.pk, "msisdn": line.msisdn, "iccid": line.iccid,
                    "from_status": current.status, "to_status": line.status, "order_id": order_id})
    if not new:
        return []
    made = LinePeriod.objects.bulk_create(new)
    # A replaced interval may have been the line's first (which also prices calls from before it): re-rate
    # those lines from their first interval.
    rerated = [p for p in made if p.line_id in rerate]
    if rerated:
        history_changed.get()([p.line_id for p in rerated],
                              None if to_replace else min(p.valid_from for p in rerated))
    return made


def line_record_change(*, line: Line, at: dt.datetime, reason: str, order_id: int | None = None) -> LinePeriod | None:
    """After ``line`` was saved with a change: close its open interval at ``at``, open one from its state.

    Call it in the transaction that changed the line (with the line row locked). Returns the new interval,
    or None when no kept field changed."""
    _require_aware(at)
    made = _record([line], at=at, reason=reason, order_id=order_id)
    return made[0] if made else None


def lines_record_change(*, line_ids: Sequence[int], at: dt.datetime, reason: str,
                        order_id: int | None = None) -> int:
    """``line_record_change`` for a set of lines already changed in the database (e.g. by one
    ``UPDATE``): reads them back in chunks, closes their open intervals set-wise and ``bulk_create``\\ s the
    new ones. Returns how many intervals were opened."""
    _require_aware(at)
    made = 0
    ids = sorted(set(line_ids))
    for i in range(0, len(ids), _CHUNK):
        lines = Line.objects.filter(pk__in=ids[i:i + _CHUNK]).select_related("plan").order_by("pk")
        made += len(_record(lines, at=at, reason=reason, order_id=order_id))
    return made


# --- set-wise opening intervals ------------------------------------------------------------------------

# A cancelled line with a start and an end date was in service from its start through its end date: it gets
# a closed interval (status active) up to 00:00 JST of the day after the end date, and its open interval
# (cancelled) from then. Every other line gets one open interval with its current state.
_IN_SERVICE_THEN_CANCELLED = ("l.status = 'cancelled' AND l.started_on IS NOT NULL AND l.scheduled_end_on IS NOT "
                              "NULL AND l.scheduled_end_on >= l.started_on")
_SQL = {
    # Django keeps SQLite datetimes as UTC text 'YYYY-MM-DD HH:MM:SS'; 00:00 JST is 15:00 UTC the day before.
    "sqlite": {"start": "datetime(l.started_on, '-9 hours')", "end": "datetime(l.scheduled_end_on, '+1 day', "
               "'-9 hours')"},
    "postgresql": {"start": "(l.started_on::timestamp AT TIME ZONE 'Asia/Tokyo')",
                   "end": "((l.scheduled_end_on + 1)::timestamp AT TIME ZONE 'Asia/Tokyo')"},
}


def opening_sql(vendor: str, *, where: str = "") -> list[str]:
    """The two ``INSERT … SELECT`` statements that give every line without history its opening interval(s);
    parameters: (reason, now) for each. ``where`` narrows the lines (an SQL condition on ``l``)."""
    expr = _SQL[vendor]
    opening = f"COALESCE({expr['start']}, l.created_at)"
    cols = ("tenant_id, line_id, valid_from, valid_to, plan_id, coverage, carrier, status, voice_options, "
            "data_cap_mb, sim_size, iccid, msisdn, reason, order_id, created_at")
    extra = f" AND ({where})" if where else ""
    closed = (
        f"INSERT INTO lines_lineperiod ({cols}) "  # noqa: S608 - no user input: fixed SQL and bound parameters
        f"SELECT l.tenant_id, l.id, {opening}, {expr['end']}, l.plan_id, p.coverage, l.carrier, 'active', "
        f"l.voice_options, l.data_cap_mb, l.sim_size, l.iccid, l.msisdn, %s, NULL, %s "
        f"FROM lines_line l JOIN lines_plan p ON p.id = l.plan_id "
        f"WHERE {_IN_SERVICE_THEN_CANCELLED} AND {expr['end']} > {opening}"
        f" AND NOT EXISTS (SELECT 1 FROM lines_lineperiod x WHERE x.line_id = l.id){extra}"
    )
    open_ = (
        f"INSERT INTO lines_lineperiod ({cols}) "  # noqa: S608
        f"SELECT l.tenant_id, l.id, CASE WHEN {_IN_SERVICE_THEN_CANCELLED} AND {expr['end']} > {opening} "
        f"THEN {expr['end']} ELSE {opening} END, NULL, l.plan_id, p.coverage, l.carrier, l.status, "
        f"l.voice_options, l.data_cap_mb, l.sim_size, l.iccid, l.msisdn, %s, NULL, %s "
        f"FROM lines_line l JOIN lines_plan p ON p.id = l.plan_id "
        f"WHERE NOT EXISTS (SELECT 1 FROM lines_lineperiod x WHERE x.line_id = l.id AND x.valid_to IS NULL)"
        f"{extra}"
    )
    return [closed, open_]


def line_history_open_missing(*, reason: str = LinePeriodReason.OPENING, tenant_ids: Sequence[int] | None = None,
                              ) -> int:
    """Opening intervals for every line (of ``tenant_ids``) that has none, set-wise; returns how many
    intervals were written. Used after lines were written in bulk (demo, benchmarks)."""
    where = ""
    params_where: list[Any] = []
    if tenant_ids is not None:
        if not tenant_ids:
            return 0
        where = f"l.tenant_id IN ({', '.join(['%s'] * len(tenant_ids))})"
        params_where = list(tenant_ids)
    now = connection.ops.adapt_datetimefield_value(clock.now())
    written = 0
    with connection.cursor() as cur:
        for sql in opening_sql(connection.vendor, where=where):
            cur.execute(sql, [reason, now, *params_where])
            written += max(cur.rowcount, 0)
    return written

