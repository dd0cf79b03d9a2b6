"""Migration ``controls.0002_closed_day_history`` (issue 15 §2): the closed days stored before they kept a
history stay in force for every day, and a default day staff had removed stays open, so no business-day
calculation changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("controls", "0001_operator_controls")]
AFTER = [("controls", "0002_closed_day_history")]


@pytest.mark.django_db(transaction=True)
def test_stored_closed_days_become_changes_in_force_since_2000(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAISEN_CLOSED_DAYS", raising=False)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("controls", "ClosedDay")
    # The first change used to copy the defaults into rows; staff then removed 12-31 and added one day.
    for month, day in ((12, 29), (12, 30), (1, 2), (1, 3)):
        old.objects.create(day=dt.date(2000, month, day), yearly=True, note="default")
    old.objects.create(day=dt.date(2027, 6, 2), yearly=False, note="move")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps.get_model("controls", "ClosedDay")
        rows = {(r.day, r.yearly): (r.closed, r.effective_from) for r in new.objects.all()}
        epoch = dt.date(2000, 1, 1)
        assert rows[(dt.date(2027, 6, 2), False)] == (True, epoch)
        assert rows[(dt.date(2000, 12, 29), True)] == (True, epoch)
        assert rows[(dt.date(2000, 12, 31), True)] == (False, epoch)  # removed before: stays open
        assert len(rows) == 6
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
