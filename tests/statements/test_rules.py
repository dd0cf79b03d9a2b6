"""The rules of requesting a statement (issue 4 §6): K-5 blackout days, windows and publication days of
M-DL-1..5, K-6/K-7 and S-BILL-2, encodings, all in Japan time."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kaisen.core.clock import JST
from kaisen.core.errors import DomainError
from kaisen.statements.layouts import LAYOUTS, available_months
from kaisen.statements.services import statement_request
from tests.conftest import TenantWorld


def _at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=JST)


def _request(world: TenantWorld, kind: str, month: dt.date | None = None, encoding: str = "utf-8") -> str:
    try:
        statement = statement_request(tenant=world.tenant, user=world.user, kind=kind, month=month,
                                      encoding=encoding)
    except DomainError as exc:
        return str(exc.code)
    return statement.status


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["number_charges", "call_detail"])
@pytest.mark.parametrize("when", [_at(2026, 11, 1), _at(2026, 11, 30), _at(2027, 2, 28), _at(2026, 12, 31, 23)],
                         ids=["1st", "last-day-30", "last-day-feb", "last-day-23h-jst"])
def test_k6_k7_refused_on_the_first_and_the_last_day_of_a_month_k_5(tenant_a: TenantWorld, kind: str,
                                                                   when: dt.datetime) -> None:
    """K-5: "毎月1日および最終日は、明細ファイルの作成およびダウンロードができません"."""
    with time_machine.travel(when, tick=False):
        month = when.date().replace(day=1)
        assert _request(tenant_a, kind, month) == "STATEMENT_UNAVAILABLE_TODAY"


@pytest.mark.django_db
def test_k5_blackout_is_japan_time_not_utc(tenant_a: TenantWorld) -> None:
    """2026-11-30 16:00 UTC is already 1 December 01:00 in Japan (the 1st): refused; 2026-11-30 14:00 UTC is
    23:00 on the 30th (the last day): refused; 2026-12-01 15:00 UTC is 2 December in Japan: allowed."""
    utc = dt.UTC
    with time_machine.travel(dt.datetime(2026, 11, 30, 16, 0, tzinfo=utc), tick=False):
        assert _request(tenant_a, "call_detail", dt.date(2026, 12, 1)) == "STATEMENT_UNAVAILABLE_TODAY"
    with time_machine.travel(dt.datetime(2026, 12, 1, 15, 0, tzinfo=utc), tick=False):
        assert _request(tenant_a, "call_detail", dt.date(2026, 12, 1)) == "done"


@pytest.mark.django_db
def test_other_statements_are_not_subject_to_the_k5_blackout(tenant_a: TenantWorld) -> None:
    with time_machine.travel(_at(2026, 11, 30), tick=False):
        assert _request(tenant_a, "invoice", dt.date(2026, 10, 1)) == "done"
        assert _request(tenant_a, "line_daily") == "done"


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "before", "on", "month"), [
    ("invoice", _at(2026, 11, 9, 23), _at(2026, 11, 10, 0), dt.date(2026, 10, 1)),  # M-DL-1: the 10th
    ("invoice_voice", _at(2026, 11, 24, 23), _at(2026, 11, 25, 0), dt.date(2026, 10, 1)),  # M-DL-2: the 25th
    ("cdr", _at(2026, 11, 24, 23), _at(2026, 11, 25, 0), dt.date(2026, 10, 1)),  # M-DL-3: the 25th
    ("line_monthly", _at(2026, 11, 2, 23), _at(2026, 11, 3, 0), dt.date(2026, 10, 1)),  # M-DL-4: the 3rd
])
def test_a_month_is_published_on_its_day_m_dl_1_to_4(tenant_a: TenantWorld, kind: str, before: dt.datetime,
                                                      on: dt.datetime, month: dt.date) -> None:
    with time_machine.travel(before, tick=False):
        assert _request(tenant_a, kind, month) == "STATEMENT_NOT_YET_AVAILABLE"
    with time_machine.travel(on, tick=False):
        assert _request(tenant_a, kind, month) == "done"


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "oldest", "too_old"), [
    ("invoice", dt.date(2026, 5, 1), dt.date(2026, 4, 1)),  # 6 months: 2026-05 .. 2026-10
    ("cdr", dt.date(2026, 5, 1), dt.date(2026, 4, 1)),
    ("invoice_voice", dt.date(2026, 5, 1), dt.date(2026, 4, 1)),
    ("line_monthly", dt.date(2026, 8, 1), dt.date(2026, 7, 1)),  # 3 months: 2026-08 .. 2026-10
    ("number_charges", dt.date(2026, 8, 1), dt.date(2026, 7, 1)),  # K-4: 4 months, this month included
    ("call_detail", dt.date(2026, 8, 1), dt.date(2026, 7, 1)),
    ("billing_detail", dt.date(2025, 12, 1), dt.date(2025, 11, 1)),  # this month and the 11 before
])
def test_a_month_past_its_window_is_refused(tenant_a: TenantWorld, kind: str, oldest: dt.date,
                                            too_old: dt.date) -> None:
    with time_machine.travel(_at(2026, 11, 26), tick=False):
        assert _request(tenant_a, kind, oldest) == "done"
        assert _request(tenant_a, kind, too_old) == "STATEMENT_OUT_OF_WINDOW"
        assert available_months(LAYOUTS[kind], dt.date(2026, 11, 26))[-1] == oldest


@pytest.mark.django_db
def test_windows_cross_the_year_end(tenant_a: TenantWorld) -> None:
    with time_machine.travel(_at(2027, 1, 12), tick=False):
        months = available_months(LAYOUTS["invoice"], dt.date(2027, 1, 12))
        assert months[0] == dt.date(2026, 12, 1) and months[-1] == dt.date(2026, 7, 1)
        assert _request(tenant_a, "invoice", dt.date(2027, 1, 1)) == "STATEMENT_NOT_YET_AVAILABLE"
        assert _request(tenant_a, "invoice", dt.date(2026, 6, 1)) == "STATEMENT_OUT_OF_WINDOW"


@pytest.mark.django_db
def test_utf8_only_files_refuse_shift_jis_and_daily_files_take_no_month(tenant_a: TenantWorld) -> None:
    """M-DL-4 and M-DL-5 are UTF-8 only; a daily file is today's file."""
    with time_machine.travel(_at(2026, 11, 26), tick=False):
        for kind in ("line_daily", "line_monthly", "datausage"):
            month = dt.date(2026, 10, 1) if kind == "line_monthly" else None
            assert _request(tenant_a, kind, month, "cp932") == "STATEMENT_ENCODING_NOT_ALLOWED"
        assert _request(tenant_a, "invoice", dt.date(2026, 10, 1), "cp932") == "done"
        assert _request(tenant_a, "invoice", dt.date(2026, 10, 1), "latin-1") == "VALIDATION_ERROR"
        assert _request(tenant_a, "line_daily", dt.date(2026, 9, 1)) == "STATEMENT_OUT_OF_WINDOW"
        assert _request(tenant_a, "invoice", None) == "VALIDATION_ERROR"
        assert _request(tenant_a, "nonsense") == "VALIDATION_ERROR"
