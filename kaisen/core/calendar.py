"""Business calendar and reception hours (T-4, M-AUTH-2), all in Japan time.

Business days exclude weekends, Japanese public holidays (the ``holidays`` package) and the operator's
own closed days (``KAISEN_CLOSED_DAYS``: comma-separated ``MM-DD`` days closed every year — by default the
year-end days 12-29..01-03 — and ``YYYY-MM-DD`` one-off days).

Reception hours are configuration, not constants: ``KAISEN_RECEPTION_HOURS`` (default ``09:00-19:59``, the
last minute included) for every procedure, and ``KAISEN_RECEPTION_HOURS_<KIND>`` to give one procedure
its own window (e.g. ``KAISEN_RECEPTION_HOURS_SUSPEND=10:00-18:59``).

These environment variables are the defaults of a fresh install. Staff edit hours, closed days and the
carriers' windows in the back office (issue 15 §2): ``kaisen.controls`` registers an hours source in
``HOURS_SOURCE`` that reads them from the database (effective-dated, so ``at`` picks the hours in force then,
and a day is closed or open by the calendar in force on that day) and falls back to the environment where
nothing is set.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache

import holidays

from kaisen.core import clock
from kaisen.core.registry import Slot

DEFAULT_CLOSED_DAYS = "12-29,12-30,12-31,01-02,01-03"  # 01-01 is a public holiday already


@lru_cache(maxsize=64)
def _jp_holidays(year: int) -> holidays.HolidayBase:
    return holidays.Japan(years=year)


class EnvironmentHours:
    """Hours and closed days from the environment (the defaults; ``kaisen.controls`` extends this class)."""

    def window_text(self, kind: str, at: dt.datetime | None = None) -> str:
        specific = os.environ.get(f"KAISEN_RECEPTION_HOURS_{kind.upper()}") if kind else None
        return specific or os.environ.get("KAISEN_RECEPTION_HOURS", "09:00-19:59")

    def closed_days(self) -> tuple[set[str], set[dt.date]]:
        yearly: set[str] = set()
        once: set[dt.date] = set()
        for item in os.environ.get("KAISEN_CLOSED_DAYS", DEFAULT_CLOSED_DAYS).split(","):
            item = item.strip()
            if len(item) == 5:
                yearly.add(item)
            elif len(item) == 10:
                once.add(dt.date.fromisoformat(item))
        return yearly, once

    def is_closed_day(self, day: dt.date) -> bool:
        """Whether the operator's calendar closes ``day`` (the calendar in force on that day)."""
        yearly, once = self.closed_days()
        return day.strftime("%m-%d") in yearly or day in once

    def carrier_opens(self, carrier: str, default: dt.time | None, at: dt.datetime | None = None) -> dt.time | None:
        return default


#: Where hours and closed days come from (``kaisen.controls`` registers the database source when it starts).
HOURS_SOURCE: Slot[EnvironmentHours] = Slot("no hours source")
_ENVIRONMENT = EnvironmentHours()


def hours_source() -> EnvironmentHours:
    return HOURS_SOURCE.get_or(_ENVIRONMENT)


def carrier_opening(carrier: str, default: dt.time | None, at: dt.datetime | None = None) -> dt.time | None:
    """The time from which a carrier carries out a kind of request (SoftBank suspend/resume: 10:00)."""
    return hours_source().carrier_opens(carrier, default, at)


def is_business_day(day: dt.date) -> bool:
    if day.weekday() >= 5 or day in _jp_holidays(day.year):
        return False
    return not hours_source().is_closed_day(day)


def add_business_days(day: dt.date, n: int) -> dt.date:
    """The n-th business day after ``day`` (n >= 1)."""
    current = day
    count = 0
    while count < n:
        current += dt.timedelta(days=1)
        if is_business_day(current):
            count += 1
    return current


def nth_business_day_of_month(year: int, month: int, n: int) -> dt.date:
    day = dt.date(year, month, 1)
    count = 1 if is_business_day(day) else 0
    while count < n:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            count += 1
    return day


def month_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s month (months are stored as their first day)."""
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after (negative: before) ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def previous_month(day: dt.date) -> dt.date:
    return add_months(day, -1)


def first_of_next_month(day: dt.date) -> dt.date:
    return add_months(day, 1)


def last_day_of_month(day: dt.date) -> dt.date:
    return first_of_next_month(day) - dt.timedelta(days=1)


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Window:
    opens: dt.time
    closes: dt.time  # the last minute included: 19:59 means until 19:59:59

    def contains(self, at: dt.time) -> bool:
        return self.opens <= at.replace(second=0, microsecond=0) <= self.closes

    def label(self) -> str:
        return f"{self.opens:%H:%M}–{self.closes:%H:%M}"


def _parse_window(text: str) -> Window:
    opens, closes = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    return Window(opens=opens, closes=closes)


def reception_window(kind: str = "", at: dt.datetime | None = None) -> Window:
    """``kind``'s reception hours in force at ``at`` (now by default)."""
    return _parse_window(hours_source().window_text(kind, at))


def is_within_reception(kind: str = "", at: dt.datetime | None = None) -> bool:
    local = (at or clock.now()).astimezone(clock.JST)
    return reception_window(kind, local).contains(local.time())


def next_reception_opening(kind: str = "", at: dt.datetime | None = None) -> dt.datetime:
    """When reception opens next (today if it has not opened yet, else tomorrow), Japan time."""
    local = (at or clock.now()).astimezone(clock.JST)
    window = reception_window(kind, local)
    day = local.date() if local.time() < window.opens else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, window.opens, tzinfo=clock.JST)


def last_reception_moment(kind: str, until: dt.datetime) -> dt.datetime:
    """The last moment at or before ``until`` that lies within ``kind``'s reception hours (Japan time).

    A withdrawal is refused outside reception hours, so "withdrawable until 23:59" really ends when
    reception closes that day: this is the deadline pages, mails and the API show and the withdrawal
    service enforces (issue 14) — one function, so they cannot disagree.
    """
    local = until.astimezone(clock.JST)
    window = reception_window(kind, local)
    if window.contains(local.time()):
        return local
    closes = dt.datetime.combine(local.date(), window.closes, tzinfo=clock.JST).replace(second=59,
                                                                                         microsecond=999999)
    return closes if local > closes else closes - dt.timedelta(days=1)
