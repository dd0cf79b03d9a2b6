"""The month arithmetic of kaisen.core.calendar: months are stored as their first day, and every module
steps through them with these helpers (no hand-rolled ``timedelta(days=32)`` loops)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaisen.core.calendar import add_months, first_of_next_month, last_day_of_month, month_start, previous_month

D = dt.date
# Whole years of dates, far from datetime's limits (add_months may go a few years either way).
DAYS = st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))


@pytest.mark.parametrize(("day", "expected"), [
    (D(2026, 1, 1), D(2026, 1, 1)),
    (D(2026, 1, 31), D(2026, 1, 1)),
    (D(2024, 2, 29), D(2024, 2, 1)),
    (D(2026, 12, 31), D(2026, 12, 1)),
])
def test_month_start_is_the_first_of_the_month(day: dt.date, expected: dt.date) -> None:
    assert month_start(day) == expected


@pytest.mark.parametrize(("day", "n", "expected"), [
    (D(2026, 5, 17), 0, D(2026, 5, 1)),
    (D(2026, 5, 17), 1, D(2026, 6, 1)),
    (D(2026, 12, 31), 1, D(2027, 1, 1)),  # Dec → Jan
    (D(2026, 11, 30), 2, D(2027, 1, 1)),
    (D(2026, 1, 31), 1, D(2026, 2, 1)),  # no overflow from the 31st into March
    (D(2026, 1, 15), 12, D(2027, 1, 1)),
    (D(2026, 1, 15), 13, D(2027, 2, 1)),
    (D(2026, 3, 31), 84, D(2033, 3, 1)),  # seven years, the invoices' retention
    (D(2026, 5, 17), -1, D(2026, 4, 1)),
    (D(2026, 1, 1), -1, D(2025, 12, 1)),  # Jan → Dec of the year before
    (D(2026, 3, 31), -1, D(2026, 2, 1)),
    (D(2026, 1, 31), -12, D(2025, 1, 1)),
    (D(2026, 1, 31), -13, D(2024, 12, 1)),
    (D(2026, 2, 10), -26, D(2023, 12, 1)),
])
def test_add_months(day: dt.date, n: int, expected: dt.date) -> None:
    assert add_months(day, n) == expected


@pytest.mark.parametrize(("day", "expected"), [
    (D(2026, 1, 1), D(2025, 12, 1)),
    (D(2026, 1, 31), D(2025, 12, 1)),
    (D(2026, 3, 31), D(2026, 2, 1)),
    (D(2024, 3, 1), D(2024, 2, 1)),
    (D(2026, 12, 31), D(2026, 11, 1)),
])
def test_previous_month(day: dt.date, expected: dt.date) -> None:
    assert previous_month(day) == expected


@pytest.mark.parametrize(("day", "expected"), [
    (D(2026, 12, 1), D(2027, 1, 1)),
    (D(2026, 12, 31), D(2027, 1, 1)),
    (D(2026, 1, 31), D(2026, 2, 1)),
    (D(2024, 2, 29), D(2024, 3, 1)),
    (D(2026, 6, 30), D(2026, 7, 1)),
])
def test_first_of_next_month(day: dt.date, expected: dt.date) -> None:
    assert first_of_next_month(day) == expected


@pytest.mark.parametrize(("day", "expected"), [
    (D(2024, 2, 1), D(2024, 2, 29)),  # leap year
    (D(2026, 2, 14), D(2026, 2, 28)),
    (D(2000, 2, 1), D(2000, 2, 29)),  # divisible by 400: leap
    (D(2100, 2, 1), D(2100, 2, 28)),  # divisible by 100 only: not leap
    (D(2026, 4, 30), D(2026, 4, 30)),
    (D(2026, 1, 1), D(2026, 1, 31)),
    (D(2026, 12, 5), D(2026, 12, 31)),  # December, across the year end
])
def test_last_day_of_month(day: dt.date, expected: dt.date) -> None:
    assert last_day_of_month(day) == expected


@given(DAYS, st.integers(min_value=-240, max_value=240))
def test_add_months_counts_months(day: dt.date, n: int) -> None:
    result = add_months(day, n)
    assert result.day == 1
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == n


@given(DAYS, st.integers(min_value=-120, max_value=120), st.integers(min_value=-120, max_value=120))
def test_add_months_composes(day: dt.date, a: int, b: int) -> None:
    assert add_months(add_months(day, a), b) == add_months(day, a + b)
    assert add_months(add_months(day, a), -a) == month_start(day)


@given(DAYS)
def test_helpers_agree_with_the_timedelta_arithmetic_they_replace(day: dt.date) -> None:
    """The hand-written forms that used to be repeated across the code base give the same days."""
    assert month_start(day) == day.replace(day=1)
    assert previous_month(day) == (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert first_of_next_month(day) == (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    assert last_day_of_month(day) == (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


@given(DAYS)
def test_month_bounds(day: dt.date) -> None:
    first, last = month_start(day), last_day_of_month(day)
    assert first <= day <= last
    assert last.month == day.month and last.year == day.year
    assert last + dt.timedelta(days=1) == first_of_next_month(day)
    assert previous_month(first_of_next_month(day)) == first
    assert 28 <= (last - first).days + 1 <= 31
