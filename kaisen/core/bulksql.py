"""Settings for the few set-wise statements that read or write a month of calls at once (issue 10 benchmarks).

PostgreSQL only (SQLite has neither setting). Inside ``bulk_statement_settings()``:

* ``jit = off``: the planner's cost of the ingest's store statement (hundreds of thousands of rows, estimated
  through correlated sub-plans) passes ``jit_above_cost``, and compiling it took 6.5 s of a 30 s statement on a
  loaded machine (profiled 2026-12-07: ``auto_explain`` "JIT: … Optimization 3522 ms, Emission 2541 ms") for a
  plan of hash joins that runs once. The statements here gain nothing from it.
* ``work_mem`` = the Django setting ``KAISEN_BULK_WORK_MEM`` (``64MB`` when not set): the sorts and hash
  aggregates of a month's calls or rollups spilled to disk at the server default (4 MB: "external merge Disk:
  16 MB").

Both are ``SET LOCAL`` (this transaction only) and put back to their previous values when the block ends
without an error, so a caller's transaction that goes on afterwards runs with its own settings again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection

_NAMES = ("jit", "work_mem")


@contextmanager
def bulk_statement_settings(cur: Any) -> Iterator[None]:
    """Run the block with JIT off and a larger ``work_mem`` (PostgreSQL; nothing on SQLite). Needs a
    transaction (``SET LOCAL``)."""
    if connection.vendor != "postgresql":
        yield
        return
    cur.execute("SELECT current_setting('jit'), current_setting('work_mem')")
    before = cur.fetchone()
    wanted = ("off", str(getattr(settings, "KAISEN_BULK_WORK_MEM", "64MB")))
    for name, value in zip(_NAMES, wanted, strict=True):
        cur.execute("SELECT set_config(%s, %s, true)", [name, value])
    yield
    # Put back on success only: after an error the transaction (or its savepoint) is rolled back anyway, and a
    # statement in an aborted transaction would fail.
    for name, value in zip(_NAMES, before, strict=True):
        cur.execute("SELECT set_config(%s, %s, true)", [name, value])
