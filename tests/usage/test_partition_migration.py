"""Migration ``usage.0006_usage_partition_by_month`` both ways on PostgreSQL (issue 10 §5): migrating back makes
call records and daily data usage plain tables again with every row and ID kept (and 0005's reverse can then
run); migrating forward again partitions them by month as before. SQLite keeps one table: nothing to test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.billing import kit

pg_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="partitions exist on PostgreSQL only")
BEFORE = [("usage", "0005_callrecord_unique_per_month_usagearchive")]
TABLES = ("usage_callrecord", "usage_datausagedaily")


def _state() -> dict[str, tuple[str, list[int]]]:
    """Per table: its kind (``p`` partitioned, ``r`` plain) and its row IDs."""
    out = {}
    with connection.cursor() as cur:
        for table in TABLES:
            cur.execute("SELECT relkind FROM pg_class WHERE relname = %s", [table])
            kind = cur.fetchone()[0]
            cur.execute(f"SELECT id FROM {table} ORDER BY id")
            out[table] = (kind, [r[0] for r in cur.fetchall()])
    return out


@pg_only
@pytest.mark.django_db(transaction=True)
def test_partitioning_migrates_back_and_forward_keeping_every_row() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("MIG-P"), voice={})
    for month in (1, 2, 3):
        kit.call(ln, start=kit.at(2026, month, 5), seconds=60)
        kit.data(ln, dt.date(2026, month, 6), 10)
    before = _state()
    assert {kind for kind, _ids in before.values()} == {"p"} and all(len(ids) == 3 for _k, ids in before.values())

    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        back = _state()
        assert back == {table: ("r", ids) for table, (_kind, ids) in before.items()}
        with connection.cursor() as cur:  # the plain table's identity continues after the highest ID
            cur.execute("SELECT nextval(pg_get_serial_sequence('usage_callrecord', 'id'))")
            assert cur.fetchone()[0] > max(before["usage_callrecord"][1])
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
    assert _state() == before
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
                    "WHERE p.relname = 'usage_callrecord'")
        assert cur.fetchone()[0] >= 4  # the stored months and the DEFAULT partition
