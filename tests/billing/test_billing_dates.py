"""Invoice dates (S-BILL-1): amounts final on the 2nd business day of the next month, issued on its 4th,
due at the end of the issue month — Japanese holidays and the company calendar (KAISEN_CLOSED_DAYS,
year-end 12/29–1/3 by default) are not business days."""

from __future__ import annotations

import datetime as dt

import pytest

from kaisen.billing.close import billing_dates

D = dt.date


@pytest.mark.parametrize(("month", "final", "issued", "due"), [
    # Golden Week 2026: May 1 (Fri) works; May 2-6 weekend, 憲法記念日, みどりの日, こどもの日, 振替休日.
    (D(2026, 4, 1), D(2026, 5, 7), D(2026, 5, 11), D(2026, 5, 31)),
    # Year end 2025/26: Jan 1 holiday, Jan 2 (Fri) a company closed day by default, then the weekend.
    (D(2025, 12, 1), D(2026, 1, 6), D(2026, 1, 8), D(2026, 1, 31)),
    # A Monday holiday: 文化の日 2025-11-03 is a Monday.
    (D(2025, 10, 1), D(2025, 11, 5), D(2025, 11, 7), D(2025, 11, 30)),
    # 成人の日 2024-01-08 (2nd Monday) right after the year-end days.
    (D(2023, 12, 1), D(2024, 1, 5), D(2024, 1, 10), D(2024, 1, 31)),
    # An ordinary month.
    (D(2026, 8, 1), D(2026, 9, 2), D(2026, 9, 4), D(2026, 9, 30)),
])
def test_final_issue_and_due_dates(month: dt.date, final: dt.date, issued: dt.date, due: dt.date,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAISEN_CLOSED_DAYS", raising=False)
    dates = billing_dates(month)
    assert (dates.final_on, dates.issued_on, dates.due_on) == (final, issued, due)


def test_year_end_days_are_closed_by_default_and_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAISEN_CLOSED_DAYS", raising=False)
    assert billing_dates(D(2025, 12, 1)).issued_on == D(2026, 1, 8)
    monkeypatch.setenv("KAISEN_CLOSED_DAYS", "")  # a company that works on January 2nd
    assert billing_dates(D(2025, 12, 1)).issued_on == D(2026, 1, 7)
    monkeypatch.setenv("KAISEN_CLOSED_DAYS", "12-29,12-30,12-31,01-02,01-03,2026-05-07")  # a one-off closed day
    assert billing_dates(D(2026, 4, 1)).final_on == D(2026, 5, 8)
    assert billing_dates(D(2026, 4, 1)).issued_on == D(2026, 5, 12)
