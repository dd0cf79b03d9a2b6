"""The settings of the month-sized statements (``kaisen.core.bulksql``; issue 10 benchmarks): JIT off and a
larger ``work_mem`` inside the block on PostgreSQL, the caller's own values again after it; nothing on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from kaisen.billing.rating import rate_month
from kaisen.core.bulksql import bulk_statement_settings
from tests.billing import kit

pytestmark = pytest.mark.django_db


def _settings(cur) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    cur.execute("SELECT current_setting('jit'), current_setting('work_mem')")
    row = cur.fetchone()
    return str(row[0]), str(row[1])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL settings")
@override_settings(KAISEN_BULK_WORK_MEM="48MB")
def test_inside_the_block_jit_is_off_and_work_mem_larger_then_the_callers_values_again() -> None:
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '5MB'")
        cur.execute("SET LOCAL jit = on")
        with bulk_statement_settings(cur):
            assert _settings(cur) == ("off", "48MB")
        assert _settings(cur) == ("on", "5MB")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL settings")
def test_the_rating_statements_run_with_the_bulk_settings() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("BS-1"), voice={})
    kit.call(ln, start=kit.at(2026, 3, 10), seconds=30)
    with CaptureQueriesContext(connection) as ctx:
        rate_month(tenant=t, coverage="japan", month=kit.at(2026, 3, 10).date())
    sql = [q["sql"] for q in ctx.captured_queries]
    first_set = next(i for i, s in enumerate(sql) if "set_config" in s)
    first_item = next(i for i, s in enumerate(sql) if s.startswith("INSERT INTO billing_invoiceitem"))
    assert first_set < first_item
    assert "'jit'" in sql[first_set] and "'off'" in sql[first_set]


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite: nothing to set")
def test_sqlite_runs_the_block_without_a_statement() -> None:
    with (transaction.atomic(), connection.cursor() as cur, CaptureQueriesContext(connection) as ctx,
          bulk_statement_settings(cur)):
        pass
    assert ctx.captured_queries == []
