"""Reception hours and closed days from the database (issue 15 §2, M-AUTH-2, T-4).

``kaisen.core.calendar`` asks its hours source; this module installs one that reads the rows staff edit
(:class:`~kaisen.controls.models.ReceptionHours`, :class:`~kaisen.controls.models.ClosedDay`) through the
per-process snapshot. Without rows the environment variables stay in force (the defaults of a fresh install).
"""

from __future__ import annotations

import datetime as dt

from kaisen.controls import cache
from kaisen.controls import functions as fn
from kaisen.core import calendar, clock


def _snapshot() -> cache.Snapshot | None:
    """The controls snapshot, or None where no database may be used (a calculation run outside a request or
    job, such as a date computed in a unit test): then the environment's defaults apply."""
    try:
        return cache.get()
    except RuntimeError:  # database access refused before any query (pytest-django's blocker)
        return None


def _in_force(function: str, at: dt.datetime | None) -> str | None:
    snap = _snapshot()
    rows = snap.hours.get(function) if snap is not None else None
    if not rows:
        return None
    moment = at or clock.now()
    for effective_from, text in rows:
        if effective_from <= moment:
            return text
    return None


def yearly_key(day: dt.date) -> dt.date:
    """How a day closed every year is stored: its month and day in the (leap) year 2000."""
    return dt.date(2000, day.month, day.day)


def closed_state(snap: cache.Snapshot, yearly: bool, key: dt.date, on: dt.date) -> bool | None:
    """Closed (True) or open (False) by the newest change of ``(yearly, key)`` in force on ``on``; None if no
    change is in force then."""
    for effective_from, closed in snap.closed_days.get((yearly, key), ()):
        if effective_from <= on:
            return closed
    return None


class DatabaseHours(calendar.EnvironmentHours):
    def window_text(self, kind: str, at: dt.datetime | None = None) -> str:
        if kind:
            own = _in_force(fn.procedure(kind), at)
            if own:
                return own
        return _in_force(fn.HOURS_DEFAULT, at) or super().window_text(kind, at)

    def is_closed_day(self, day: dt.date) -> bool:
        """The calendar in force on ``day``: per key (the day itself; its month and day every year) the newest
        change effective on or before ``day`` decides, else the environment's default."""
        snap = _snapshot()
        if snap is None or not snap.closed_days:
            return super().is_closed_day(day)
        once = closed_state(snap, False, day, day)
        yearly = closed_state(snap, True, yearly_key(day), day)
        if once is None or yearly is None:
            env_yearly, env_once = super().closed_days()
            once = day in env_once if once is None else once
            yearly = day.strftime("%m-%d") in env_yearly if yearly is None else yearly
        return once or yearly

    def carrier_opens(self, carrier: str, default: dt.time | None, at: dt.datetime | None = None) -> dt.time | None:
        text = _in_force(f"carrier.{carrier}", at) if default is not None else None
        if text:
            return dt.time.fromisoformat(text.split("-")[0])
        return default


def install() -> None:
    calendar.HOURS_SOURCE.register(DatabaseHours())
