"""Statements: request, generate, download, expire (issue 4 §6; K-5, M-DL-1..5, K-6, K-7, S-BILL-2).

``statement_request`` checks the rules (permission ``Statement:request``, layout, encoding, publication
day and window, K-5's blackout days), records the request and counts its rows. A statement of at most
``KAISEN_STATEMENT_INLINE_ROWS`` rows (default 5,000) is written at once, inside the request; a larger one
is written by the task ``statement_generate_task`` (enqueued on commit), which reports its progress in
``rows_done``. The file goes into the ``statements`` storage under ``<tenant>/`` (``kaisen.core.files``:
``KAISEN_DATA_DIR/statements/`` or an S3 bucket) and is kept 48 hours
(``KAISEN_STATEMENT_KEEP_HOURS``); the periodic job ``statements_purge`` deletes it afterwards and marks the
statement ``expired`` (the row stays; a download answers 410 STATEMENT_EXPIRED).

All dates are Japan time (``kaisen.core.clock``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.services import authorize, line_scope
from kaisen.audit.services import audit_record
from kaisen.controls import functions as fn
from kaisen.controls import services as controls
from kaisen.core import clock, files
from kaisen.core.calendar import last_day_of_month
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.statements.encoding import ENCODINGS
from kaisen.statements.generate import (
    STALE_SECONDS,
    layout_or_error,
    statement_context,
    statement_generate,
)
from kaisen.statements.layouts import (
    MONTH,
    Layout,
    available_months,
    latest_month,
    next_publication,
)
from kaisen.statements.models import Statement, StatementStatus
from kaisen.statements.selectors import statement_get
from kaisen.statements.tasks import statement_generate_task

logger = logging.getLogger(__name__)


def inline_max_rows() -> int:
    return int(getattr(settings, "KAISEN_STATEMENT_INLINE_ROWS", os.environ.get("KAISEN_STATEMENT_INLINE_ROWS", 5000)))


# --- rules ------------------------------------------------------------------------------------------------------

def check_blackout(layout: Layout, today: dt.date) -> None:
    """K-5: no generation and no download on the 1st and on the last day of a month."""
    if layout.k5_blackout and (today.day == 1 or today == last_day_of_month(today)):
        raise DomainError(ErrorCode.STATEMENT_UNAVAILABLE_TODAY)


def resolve_period(layout: Layout, month: dt.date | None, today: dt.date) -> dt.date:
    """The period of the file: the chosen month (checked against the window and publication day) or,
    for a daily file, today."""
    if layout.period != MONTH:
        if month is not None and month != today.replace(day=1) and month != today:
            raise DomainError(ErrorCode.STATEMENT_OUT_OF_WINDOW,
                              _("This file is made for today only; no month can be chosen."), field="month")
        return today
    if month is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose a month."), field="month")
    month = month.replace(day=1)
    allowed = available_months(layout, today)
    if month in allowed:
        return month
    if month > latest_month(layout, today):
        raise DomainError(
            ErrorCode.STATEMENT_NOT_YET_AVAILABLE,
            _("The %(name)s of %(month)s is published on %(date)s.") % {
                "name": layout.label, "month": f"{month:%Y-%m}", "date": next_publication(layout, month).isoformat()},
            field="month")
    raise DomainError(
        ErrorCode.STATEMENT_OUT_OF_WINDOW,
        _("The %(name)s can be made for the last %(n)d months only (from %(oldest)s).") % {
            "name": layout.label, "n": layout.window_months, "oldest": f"{allowed[-1]:%Y-%m}"},
        field="month")


# --- request ----------------------------------------------------------------------------------------------------

def statement_request(*, tenant: Any, user: Any, kind: str, month: dt.date | None = None,
                      encoding: str = "utf-8") -> Statement:
    """Accept a request for one statement and write it now (small) or in the background (large)."""
    authorize(user=user, action=actions.STATEMENT_REQUEST)
    layout = layout_or_error(kind)
    encoding = (encoding or "utf-8").lower().replace("_", "-")
    if encoding in ("shift-jis", "sjis", "shift_jis", "windows-31j", "ms932"):
        encoding = "cp932"
    if encoding in ("utf-8-bom", "utf8-bom", "utf8-sig", "bom"):
        encoding = "utf-8-sig"
    if encoding not in ENCODINGS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose UTF-8, UTF-8 with BOM or Shift-JIS."),
                          field="encoding")
    if encoding not in layout.encodings:
        raise DomainError(ErrorCode.STATEMENT_ENCODING_NOT_ALLOWED, field="encoding")
    if encoding == "cp932":  # Shift-JIS is a service the operator may switch off per tenant (issue 15 §4)
        refusal = controls.switch_refusal(tenant.pk, fn.SWITCH_STATEMENTS_SHIFT_JIS)
        if refusal is not None:
            raise DomainError(refusal.code, refusal.message, field="encoding", details=refusal.details)
    today = clock.today_jst()
    check_blackout(layout, today)
    period = resolve_period(layout, month, today)
    scoped = user is not None and line_scope(user=user) != Q()
    with transaction.atomic():
        statement = Statement.objects.create(
            tenant=tenant, requested_by=user if getattr(user, "pk", None) else None, kind=kind, period=period,
            encoding=encoding, scoped=scoped, file_name=layout.file_name(tenant.public_id, period))
        statement.rows_total = layout.count(statement_context(statement, layout))
        statement.save(update_fields=["rows_total"])
        audit_record(action="statement.request", tenant=tenant, user=user, target=statement,
                     changes={"kind": [None, kind], "period": [None, period.isoformat()],
                              "encoding": [None, encoding], "rows": [None, statement.rows_total]})
        if statement.rows_total > inline_max_rows():
            statement_id = statement.pk
            transaction.on_commit(lambda: statement_enqueue(statement_id))
    if statement.rows_total <= inline_max_rows():
        statement_generate(statement.pk)
        statement.refresh_from_db()
    return statement


def statement_enqueue(statement_id: int) -> None:
    try:
        statement_generate_task.enqueue(statement_id)
    except Exception:  # the periodic job starts lost statements again
        logger.exception("could not enqueue statement %s", statement_id)


# --- download -----------------------------------------------------------------------------------------------------

def statement_file(statement: Statement) -> Path:
    """The statement's file on this machine, with the local storage (tests, benchmarks); S3 has no path."""
    path = files.local_path(files.STATEMENTS, statement.file_path)
    if path is None:
        raise NotImplementedError("the statements are not stored on this machine's file system")
    return path


def statement_file_delete(statement: Statement) -> None:
    if statement.file_path:
        files.delete(files.STATEMENTS, statement.file_path)


def statement_open(*, tenant: Any, user: Any, statement_id: int) -> tuple[Statement, files.Opened]:
    """The statement and its file opened for streaming, for a download: 404 for another tenant's (or, for a
    limited user, another user's) statement, STATEMENT_EXPIRED (410) after 48 hours, STATEMENT_NOT_READY (409)
    while it is being written, STATEMENT_UNAVAILABLE_TODAY (409) on a K-5 blackout day. The file is named by
    the statement row found for this tenant and user, never by the request."""
    statement = statement_get(tenant=tenant, user=user, statement_id=statement_id)
    authorize(user=user, action=actions.STATEMENT_DOWNLOAD)
    layout = layout_or_error(statement.kind)
    check_blackout(layout, clock.today_jst())
    if statement.is_expired(clock.now()):
        raise DomainError(ErrorCode.STATEMENT_EXPIRED)
    if statement.status == StatementStatus.FAILED:
        raise DomainError(ErrorCode.STATEMENT_NOT_READY, _("This statement could not be created. Request it again."))
    if statement.status != StatementStatus.DONE:
        raise DomainError(ErrorCode.STATEMENT_NOT_READY)
    opened = files.open_stream(files.STATEMENTS, statement.file_path) if statement.file_path else None
    if opened is None:
        raise DomainError(ErrorCode.STATEMENT_EXPIRED)
    try:
        audit_record(action="statement.download", tenant=tenant, user=user, target=statement)
    except BaseException:
        opened.file.close()
        raise
    return statement, opened


# --- housekeeping ---------------------------------------------------------------------------------------------------

def statements_purge() -> int:
    """Delete the files kept past their 48 hours (the rows stay, status ``expired``) and start lost runs
    again. Safe to run from several schedulers at once. Returns the number of files deleted."""
    now = clock.now()
    deleted = 0
    for pk, rel in Statement.objects.filter(status=StatementStatus.DONE, expires_at__lte=now).values_list(
            "pk", "file_path"):
        if rel:
            files.delete(files.STATEMENTS, rel)
        deleted += Statement.objects.filter(pk=pk, status=StatementStatus.DONE).update(
            status=StatementStatus.EXPIRED, file_path="")
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    lost = Statement.objects.filter(
        Q(status=StatementStatus.QUEUED, created_at__lt=stale, heartbeat_at__isnull=True)
        | Q(status=StatementStatus.RUNNING, heartbeat_at__lt=stale)).values_list("pk", flat=True)[:20]
    for pk in lost:
        statement_enqueue(pk)
    return deleted
