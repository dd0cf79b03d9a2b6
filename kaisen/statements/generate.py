"""Writing one statement's file (issue 4 §6; M-DL-1..5): claim it, stream its rows, record the outcome.

Run inline by ``kaisen.statements.services.statement_request`` for a small statement and by the task
``kaisen.statements.tasks.statement_generate_task`` for a large one. Below both, so that the service can
enqueue the task and the task can run the work without either importing the other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kaisen.access.services import line_scope
from kaisen.core import clock, files
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events import catalogue
from kaisen.events.services import event_emit
from kaisen.statements.layouts import Context, Layout, layout_get
from kaisen.statements.models import Statement, StatementStatus
from kaisen.statements.writers import write_copy, write_rows

logger = logging.getLogger(__name__)


def keep_hours() -> int:
    return int(getattr(settings, "KAISEN_STATEMENT_KEEP_HOURS", os.environ.get("KAISEN_STATEMENT_KEEP_HOURS", 48)))


#: A queued or running statement not heard of for this long is taken to be lost and is started again.
STALE_SECONDS = 120
PROGRESS_EVERY_ROWS = 5000


def use_copy() -> bool:
    """PostgreSQL's COPY fast path for the layouts that have one (``KAISEN_STATEMENT_COPY=0`` turns it off)."""
    from django.db import connection

    return connection.vendor == "postgresql" and os.environ.get("KAISEN_STATEMENT_COPY", "1") != "0"


def layout_or_error(kind: str) -> Layout:
    layout = layout_get(kind)
    if layout is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown statement."), field="kind")
    return layout


def statement_context(statement: Statement, layout: Layout) -> Context:
    user = statement.requested_by
    if statement.scoped:
        if user is None:  # the limited user who asked is gone: nothing of theirs to show
            scope = line = Q(pk__in=[])
        else:
            scope, line = line_scope(user=user, prefix="line__"), line_scope(user=user)
    else:
        scope = line = Q()
    return Context(tenant=statement.tenant, scope=scope, line_scope=line, period=statement.period,
                   partner_id=statement.tenant.public_id)


# --- generation --------------------------------------------------------------------------------------------------

def _claim(statement_id: int) -> bool:
    """Take the statement for this run: queued, or running but silent for STALE_SECONDS (a lost run)."""
    now = clock.now()
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    claimable = Q(status=StatementStatus.QUEUED) | Q(status=StatementStatus.RUNNING, heartbeat_at__lt=stale)
    return bool(Statement.objects.filter(claimable, pk=statement_id).update(
        status=StatementStatus.RUNNING, started_at=now, heartbeat_at=now, rows_done=0))


@contextlib.contextmanager
def _side_progress(statement_id: int) -> Iterator[Callable[[int], None]]:
    """Progress while ``COPY`` holds the connection: written through a second, autocommit connection (the
    copy's own connection cannot run a query until the copy ends). Best effort: a failure only loses a
    progress step (the final count is written after the copy on the main connection)."""
    from django.db import connection

    side = None
    try:
        side = connection.get_new_connection(connection.get_connection_params())
        side.autocommit = True
    except Exception:
        logger.warning("no second connection for the progress of statement %s", statement_id)

    def progress(done: int) -> None:
        if side is None:
            return
        try:
            with side.cursor() as cur:
                cur.execute(f"UPDATE {Statement._meta.db_table} SET rows_done = %s, heartbeat_at = %s "  # noqa: S608
                            "WHERE id = %s", (done, clock.now(), statement_id))
        except Exception:
            logger.warning("progress of statement %s not written", statement_id, exc_info=True)

    try:
        yield progress
    finally:
        if side is not None:
            side.close()


def statement_generate(statement_id: int) -> str:
    """Write the file of one statement, streaming its rows; returns the final status."""
    if not _claim(statement_id):
        return Statement.objects.filter(pk=statement_id).values_list("status", flat=True).first() or "missing"
    statement = Statement.objects.select_related("tenant", "requested_by").get(pk=statement_id)
    layout = layout_or_error(statement.kind)
    # One key per file, under the tenant's own prefix; downloads name it from the statement row only.
    name = f"{statement.tenant_id}/{statement.pk}-{uuid.uuid4().hex}.csv"

    def progress(done: int) -> None:
        Statement.objects.filter(pk=statement_id).update(rows_done=done, heartbeat_at=clock.now())

    try:
        ctx = statement_context(statement, layout)
        with files.writing(files.STATEMENTS, name) as (out, store):
            if layout.pg_select is not None and use_copy():
                sql, params = layout.pg_select(ctx)
                with _side_progress(statement_id) as side:
                    rows, size = write_copy(out, layout=layout, sql=sql, params=params,
                                            encoding=statement.encoding, progress=side,
                                            progress_rows=PROGRESS_EVERY_ROWS)
            else:
                rows, size = write_rows(out, layout=layout, rows=layout.rows(ctx), encoding=statement.encoding,
                                        progress=progress, progress_rows=PROGRESS_EVERY_ROWS,
                                        flush_rows=min(1000, PROGRESS_EVERY_ROWS))
            name = store()
    except Exception as exc:
        logger.exception("statement %s failed", statement_id)
        Statement.objects.filter(pk=statement_id).update(status=StatementStatus.FAILED, error=str(exc)[:300],
                                                         finished_at=clock.now())
        return StatementStatus.FAILED
    finished = clock.now()
    expires = finished + dt.timedelta(hours=keep_hours())
    with transaction.atomic():
        Statement.objects.filter(pk=statement_id).update(
            status=StatementStatus.DONE, rows_done=rows, rows_total=rows, size_bytes=size,
            file_path=name, finished_at=finished, heartbeat_at=finished,
            expires_at=expires)
        # issue 13 §1: "statement ready", in the transaction that marks it done.
        event_emit(tenant_id=statement.tenant_id, type=catalogue.STATEMENT_READY, data={
            "statement_id": statement.pk, "kind": statement.kind, "rows": rows, "size_bytes": size,
            "expires_at": expires.isoformat()})
    return StatementStatus.DONE
