"""Bulk procedures (X-BULK): one CSV of lines and parameters for one procedure type.

The file has a header row. The column ``line`` names the line (phone number or SIM serial); the other
columns are the procedure's parameters (``BULK_COLUMNS``), an empty cell meaning "not given". Excel in
Japan saves Shift_JIS (cp932), everything else UTF-8 (with or without a BOM); commas or tabs; CRLF or LF.

A dry run previews every row (``order_preview``) and writes no order. A real run submits every row
(``order_submit``) in its own transaction, with an idempotency key derived from the job and the row, so a
bad row never blocks the others. A small file runs inside the request; a larger one is kept on the job and
run by the task ``bulk_job_run`` (status queued → running → done | failed, progress in ``rows_done``);
a run lost with its worker is enqueued again by the scheduler and resumes where it stopped. Either way
the per-row results are kept on the ``BulkJob`` and can be downloaded as a CSV (``bulk_result_csv``): the
input columns plus ``result``, ``order_id``, ``effective_date``, ``code`` and ``message``.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _
from django_tasks import task

from kaisen.access import actions
from kaisen.access.services import approval_needed, authorize, is_line_limited
from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.csvsafe import csv_safe, csv_text
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.lines.selectors import line_lookup
from kaisen.procedures.models import BulkJob, BulkJobStatus, OrderKind

logger = logging.getLogger(__name__)

MAX_ROWS = 10_000
MAX_BYTES = 10 * 1024 * 1024
LINE_COLUMN = "line"
RESULT_COLUMNS = ("result", "order_id", "effective_date", "code", "message")

#: What the ``result`` column says for a row.
ACCEPTED, REFUSED = "accepted", "refused"
WOULD_ACCEPT, WOULD_REFUSE = "would_accept", "would_refuse"


def _text(value: str) -> str:
    return value


def _int(value: str) -> int:
    digits = value.replace(",", "").replace("_", "")
    if not re.fullmatch(r"-?\d+", digits):
        raise ValueError(value)
    return int(digits)


_TRUE = {"1", "true", "yes", "y", "on", "あり", "有", "する", "加入", "○", "〇"}
_FALSE = {"0", "false", "no", "n", "off", "なし", "無", "しない", "解約", "×"}


def _bool(value: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(value)


def _date(value: str) -> str:
    """``2026-11-30`` or ``2026/11/30`` (what Excel writes in Japan) → ISO date text."""
    match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", value)
    if not match:
        raise ValueError(value)
    return dt.date(*(int(g) for g in match.groups())).isoformat()


Converter = Callable[[str], Any]
#: Per procedure: CSV column -> (where it goes in ``params``, how a cell is read). A path with a dot goes
#: into a nested object (``options.voicemail`` → ``params["options"]["voicemail"]``).
BULK_COLUMNS: dict[str, dict[str, tuple[str, Converter]]] = {
    OrderKind.MNP_ACTIVATION: {"activation_date": ("activation_date", _date)},
    OrderKind.SUSPEND: {},
    OrderKind.RESUME: {},
    OrderKind.VOICE_OPTIONS: {
        "effective": ("effective", _text),
        "flat_rate_calling": ("options.flat_rate_calling", _bool),
        "voicemail": ("options.voicemail", _bool),
        "call_waiting": ("options.call_waiting", _bool),
        "call_forwarding": ("options.call_forwarding", _bool),
        "international_call_cap": ("options.international_call_cap", _int),
        "international_roaming_cap": ("options.international_roaming_cap", _int),
        "group_calling": ("options.group_calling", _bool),
        "number_block": ("options.number_block", _bool),
        "network_pin": ("options.network_pin", _text),
    },
    OrderKind.PLAN_CHANGE: {"plan_code": ("plan_code", _text), "data_cap_mb": ("data_cap_mb", _int)},
    OrderKind.SIM_REISSUE: {
        "method": ("method", _text),
        "sim_size": ("sim_size", _text),
        "ship_date": ("ship_date", _date),
        "delivery_postal_code": ("delivery_address.postal_code", _text),
        "delivery_address": ("delivery_address.address", _text),
        "delivery_recipient": ("delivery_address.recipient", _text),
    },
    OrderKind.MNP_RESERVATION: {
        "holder_name": ("holder_name", _text),
        "holder_name_kana": ("holder_name_kana", _text),
        "category": ("category", _text),
    },
    OrderKind.CANCELLATION: {"end_date": ("end_date", _date)},
}


def bulk_columns(kind: str) -> list[str]:
    """The columns a CSV for ``kind`` may have, ``line`` first (the template the pages and docs show)."""
    return [LINE_COLUMN, *BULK_COLUMNS[kind]]


def _invalid(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_CSV, message, field="file")


def _cell(value: str | None) -> str:
    """A cell without surrounding spaces; full-width digits, hyphens and slashes (a number, a date, a phone
    number typed in Japanese input mode) become ASCII. Names are left alone: they must stay full-width."""
    text = (value or "").strip()
    if text.isascii():
        return text
    narrow = unicodedata.normalize("NFKC", text)
    return narrow if re.fullmatch(r"[0-9\-/.,+ ]+", narrow) else text


def parse_csv(data: bytes, kind: str) -> tuple[list[str], list[list[str]]]:
    """Header (lower-cased column names) and data rows (blank rows dropped), or INVALID_CSV."""
    if kind not in BULK_COLUMNS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown procedure: %(kind)s.") % {"kind": kind},
                          field="kind")
    if len(data) > MAX_BYTES:
        raise _invalid(_("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)})
    text = csv_text(data)
    if "\x00" in text:
        raise _invalid(_("The file is not a CSV text file."))
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [row for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:  # a cell over the csv module's limit, a stray quote in strict dialects
        raise _invalid(_("Line %(line)d of the file cannot be read: a line break inside a cell must be in "
                         "double quotes, and a cell holds at most 131,072 characters.")
                       % {"line": reader.line_num}) from exc
    if not rows:
        raise _invalid(_("The file is empty: it needs a header row and at least one line."))
    header = [h.strip().lower() for h in rows[0]]
    allowed = bulk_columns(kind)
    if LINE_COLUMN not in header:
        raise _invalid(_("The header row has no column “line” (the phone number or SIM serial). Columns for "
                         "this procedure: %(columns)s.") % {"columns": ", ".join(allowed)})
    unknown = [h or "(empty)" for h in header if h not in allowed]
    if unknown:
        raise _invalid(_("Unknown column(s) for this procedure: %(unknown)s. Columns for this procedure: "
                         "%(columns)s.") % {"unknown": ", ".join(unknown), "columns": ", ".join(allowed)})
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise _invalid(_("Column(s) given twice: %(columns)s.") % {"columns": ", ".join(twice)})
    body = rows[1:]
    if not body:
        raise _invalid(_("The file has a header row but no lines."))
    if len(body) > MAX_ROWS:
        raise _invalid(_("The file has %(rows)d lines; at most %(max)d lines per file.")
                       % {"rows": len(body), "max": MAX_ROWS})
    return header, body


def row_params(kind: str, header: list[str], row: list[str]) -> dict[str, Any]:
    """A row's ``params`` for the service; a cell that cannot be read raises VALIDATION_ERROR."""
    params: dict[str, Any] = {}
    spec = BULK_COLUMNS[kind]
    for column, raw in zip(header, row, strict=False):
        if column == LINE_COLUMN:
            continue
        value = _cell(raw)
        if value == "":
            continue
        path, convert = spec[column]
        try:
            converted = convert(value)
        except ValueError as exc:
            raise DomainError(ErrorCode.VALIDATION_ERROR,
                              _("Column %(column)s: %(value)s is not a valid value.")
                              % {"column": column, "value": value}, field=column) from exc
        target = params
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = converted
    return params


def _row_refusal(row_no: int, line_ref: str, input_pairs: list[list[str]], code: str, message: str,
                 dry_run: bool) -> dict[str, Any]:
    return {"row": row_no, "line": line_ref, "ok": False, "result": WOULD_REFUSE if dry_run else REFUSED,
            "order_id": None, "effective_date": None, "code": code, "message": message, "input": input_pairs}


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def inline_max_rows() -> int:
    """Files of at most this many rows run inside the request (a snappy page); larger ones in the background."""
    return _setting("KAISEN_BULK_INLINE_ROWS", 200)


def stale_seconds() -> int:
    """A queued or running job not heard of for this long is taken to be lost and is enqueued again."""
    return _setting("KAISEN_BULK_STALE_SECONDS", 60)


#: Progress (rows_done, counts, heartbeat) is written at least this often while a job runs …
PROGRESS_EVERY_ROWS, PROGRESS_EVERY_SECONDS = 25, 1.0
#: … and the per-row results (what a resumed run starts after) every this many rows.
RESULTS_EVERY_ROWS = 250
#: A job whose run was started this many times without finishing is marked failed.
MAX_ATTEMPTS = 5


def _file_digest(kind: str, dry_run: bool, data: bytes) -> str:
    return hashlib.sha256(f"{kind}|{int(dry_run)}|".encode() + data).hexdigest()


def _same_upload(job: BulkJob, digest: str) -> BulkJob:
    if job.csv_sha256 and job.csv_sha256 != digest:
        raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                          _("This idempotency key was already used for another upload."), field="idempotency_key")
    return job


def bulk_start(*, tenant: Any, user: Any, kind: str, csv_bytes: bytes, filename: str, dry_run: bool,
               idempotency_key: str = "", inline_rows: int | None = None) -> tuple[BulkJob, bool]:
    """Accept a bulk upload: ``(job, created)``. Up to ``inline_rows`` (``KAISEN_BULK_INLINE_ROWS``) rows run
    here and now; a larger file is stored on the job (status ``queued``) and run by the task ``bulk_job_run``.

    Idempotent per (tenant, ``idempotency_key``): the same key with the same file returns the first job
    (``created`` False); with another file it is IDEMPOTENCY_KEY_REUSED. A file that cannot be read at all is
    INVALID_CSV and leaves no job.
    """
    key = (idempotency_key or "").strip()
    if len(key) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give an idempotency key of 1 to 100 characters."),
                          field="idempotency_key")
    authorize(user=user, action=actions.BULK_SUBMIT)
    if kind in actions.ORDER_KIND_ACTIONS:
        authorize(user=user, action=actions.order_kind_action(kind))
    digest = _file_digest(kind, dry_run, csv_bytes)
    if key:
        existing = BulkJob.objects.filter(tenant=tenant, idempotency_key=key).first()
        if existing is not None:
            return _same_upload(existing, digest), False
    _header, body = parse_csv(csv_bytes, kind)
    try:
        with transaction.atomic():
            job = BulkJob.objects.create(
                tenant=tenant, kind=kind, requested_by=user if getattr(user, "pk", None) else None,
                filename=(filename or "")[:200], dry_run=dry_run, rows_total=len(body), status=BulkJobStatus.QUEUED,
                csv_data=csv_bytes, csv_sha256=digest, idempotency_key=key)
    except IntegrityError:  # a twin request with the same key won the race
        twin = BulkJob.objects.filter(tenant=tenant, idempotency_key=key).first()
        if key and twin is not None:
            return _same_upload(twin, digest), False
        raise
    limit = inline_max_rows() if inline_rows is None else inline_rows
    if len(body) <= limit:
        bulk_process(job.pk)
        job.refresh_from_db()
    else:
        job_id = job.pk
        transaction.on_commit(lambda: bulk_enqueue(job_id))
    return job, True


def bulk_run(*, tenant: Any, user: Any, kind: str, csv_bytes: bytes, filename: str, dry_run: bool) -> BulkJob:
    """Run (or with ``dry_run`` only preview) ``kind`` for every row of the CSV, here and now, whatever its size;
    per-row results on the job.

    A file that cannot be read at all (encoding, header, size) is refused with INVALID_CSV and leaves no
    job; a row that is refused is reported in its result and never stops the other rows.
    """
    job, _created = bulk_start(tenant=tenant, user=user, kind=kind, csv_bytes=csv_bytes, filename=filename,
                               dry_run=dry_run, inline_rows=MAX_ROWS)
    return job


def bulk_enqueue(job_id: int) -> None:
    """Enqueue ``bulk_job_run`` for a job; a failure is logged (the scheduler's ``bulk_requeue_stale`` retries)."""
    try:
        bulk_job_run.enqueue(job_id)
    except Exception:
        logger.exception("could not enqueue bulk job %s", job_id)


def bulk_process(job_id: int) -> str:
    """Run a queued job (or one whose run was lost: ``running`` and silent for ``stale_seconds``) to the end.

    Resumable: the run starts after the last results it saved. Rows of a real run processed after that and
    before a crash are submitted again with the same per-row idempotency key, so they return the order they
    made then and never a second one. Only one run holds a job (``run_token``); a run that finds its token
    gone (the job was taken over) stops. Returns what happened: done, skipped, lost, error.
    """
    now = clock.now()
    token = uuid.uuid4().hex
    stale = now - dt.timedelta(seconds=stale_seconds())
    claimed = (BulkJob.objects.filter(pk=job_id)
               .filter(Q(status=BulkJobStatus.QUEUED) | Q(status=BulkJobStatus.RUNNING, updated_at__lt=stale))
               .update(status=BulkJobStatus.RUNNING, run_token=token, attempts=F("attempts") + 1, updated_at=now))
    if not claimed:
        return "skipped"
    job = BulkJob.objects.select_related("tenant", "requested_by").get(pk=job_id)
    try:
        return _process_rows(job, token)
    except Exception as exc:
        logger.exception("bulk job %s: run %s stopped", job_id, job.attempts)
        if job.attempts >= MAX_ATTEMPTS:
            BulkJob.objects.filter(pk=job_id, run_token=token).update(
                status=BulkJobStatus.FAILED, error_message=str(exc)[:500], finished_at=clock.now())
        return "error"


def _counts(results: list[dict[str, Any]]) -> tuple[int, int]:
    ok = sum(1 for r in results if r["ok"])
    return ok, len(results) - ok


def _process_rows(job: BulkJob, token: str) -> str:
    tenant, user, kind, dry_run = job.tenant, job.requested_by, job.kind, job.dry_run
    header, body = parse_csv(bytes(job.csv_data), kind)
    results: list[dict[str, Any]] = list(job.results or [])[: len(body)]
    seen = {r["line_id"]: r["row"] for r in results if r.get("line_id")}  # line id -> first row that named it
    saved_results, last_beat = len(results), time.monotonic()
    for row_no in range(len(results) + 1, len(body) + 1):
        results.append(_bulk_row(job, tenant, user, kind, dry_run, header, body[row_no - 1], row_no, seen))
        if row_no == len(body):
            break
        with_results = row_no - saved_results >= RESULTS_EVERY_ROWS
        if with_results or row_no % PROGRESS_EVERY_ROWS == 0 or time.monotonic() - last_beat >= PROGRESS_EVERY_SECONDS:
            ok, failed = _counts(results)
            fields: dict[str, Any] = {"rows_done": row_no, "rows_ok": ok, "rows_failed": failed,
                                      "updated_at": clock.now()}
            if with_results:
                fields["results"] = results
                saved_results = row_no
            if not BulkJob.objects.filter(pk=job.pk, run_token=token, status=BulkJobStatus.RUNNING).update(**fields):
                logger.warning("bulk job %s was taken over by another run; this one stops", job.pk)
                return "lost"
            last_beat = time.monotonic()
    ok, failed = _counts(results)
    with transaction.atomic():
        finished = BulkJob.objects.filter(pk=job.pk, run_token=token, status=BulkJobStatus.RUNNING).update(
            status=BulkJobStatus.DONE, results=results, rows_done=len(results), rows_ok=ok, rows_failed=failed,
            finished_at=clock.now(), updated_at=clock.now(), error_message="")
        if not finished:
            return "lost"
        job.refresh_from_db()
        audit_record(action="bulk.dry_run" if dry_run else "bulk.run", tenant=tenant, user=user, target=job,
                     changes={"kind": [None, kind], "filename": [None, job.filename], "rows": [None, job.rows_total],
                              "ok": [None, job.rows_ok], "refused": [None, job.rows_failed]})
    return "done"


@task()
def bulk_job_run(job_id: int) -> str:
    """Run a large bulk upload row by row (X-BULK), enqueued on commit by ``bulk_start``.

    Safe to run twice or after a crash: only one run holds the job, it resumes after the rows it saved, and
    every row of a real run has its own idempotency key. Lost runs are enqueued again by the scheduler.
    """
    return bulk_process(job_id)


def _bulk_row(job: BulkJob, tenant: Any, user: Any, kind: str, dry_run: bool, header: list[str], row: list[str],
              row_no: int, seen: dict[int, int]) -> dict[str, Any]:
    """One row: previewed (dry run) or submitted in its own transaction; a refusal or a bug is its result."""
    from kaisen.procedures.services import order_preview, order_submit

    cells = [*row, *[""] * (len(header) - len(row))]
    input_pairs = [[column, cells[i]] for i, column in enumerate(header)]
    line_ref = cells[header.index(LINE_COLUMN)].strip()
    line_id: int | None = None
    try:
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            raise DomainError(ErrorCode.VALIDATION_ERROR,
                              _("The row has more cells than the header has columns."))
        if not line_ref:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("The column “line” is empty."), field=LINE_COLUMN)
        # A line outside the requester's lines (issue 5 §1) is "not found" for this row, like a missing one.
        line = line_lookup(tenant=tenant, query=_cell(line_ref), user=user, action=None)
        params = row_params(kind, header, cells)
        if line.pk in seen:
            raise DomainError(ErrorCode.ORDER_CONFLICT,
                              _("The same line is already in row %(row)d of this file.") % {"row": seen[line.pk]})
        seen[line.pk] = row_no
        line_id = line.pk
        if approval_needed(user=user, kind=kind):
            raise DomainError(ErrorCode.APPROVAL_REQUIRED,
                              _("This procedure needs a second user's approval: request it on the line's page, "
                                "not in a bulk upload."))
        if dry_run:
            preview = order_preview(tenant=tenant, user=user, line_id=line.pk, kind=kind, params=params)
            return {"row": row_no, "line": line_ref, "ok": True, "result": WOULD_ACCEPT, "order_id": None,
                    "effective_date": _iso(preview.effective_date), "code": "",
                    "message": " ".join(str(w) for w in preview.warnings), "input": input_pairs, "line_id": line_id}
        with transaction.atomic():
            order = order_submit(tenant=tenant, user=user, line_id=line.pk, kind=kind, params=params,
                                 idempotency_key=f"bulk-{job.pk}-{row_no}", bulk_job=job)
        return {"row": row_no, "line": line_ref, "ok": True, "result": ACCEPTED, "order_id": order.pk,
                "effective_date": _iso(order.effective_date), "code": "", "message": "", "input": input_pairs,
                "line_id": line_id}
    except DomainError as exc:
        return {**_row_refusal(row_no, line_ref, input_pairs, str(exc.code), str(exc.message), dry_run),
                "line_id": line_id}
    except Exception:  # one row's bug must not lose the other rows' results (each row is its own transaction)
        logger.exception("bulk job %s row %s failed", job.pk, row_no)
        return {**_row_refusal(row_no, line_ref, input_pairs, "ROW_ERROR",
                               _("This row could not be processed; try it again."), dry_run), "line_id": line_id}


def bulk_requeue_stale(*, limit: int = 50) -> int:
    """Enqueue again the jobs whose run was lost (a worker killed mid-job, a task that never ran): queued or
    running and silent for ``stale_seconds``. The scheduler calls it; a job started ``MAX_ATTEMPTS`` times
    is marked failed instead. Returns how many jobs were enqueued again."""
    now = clock.now()
    stale = now - dt.timedelta(seconds=stale_seconds())
    lost = BulkJob.objects.filter(status__in=[BulkJobStatus.QUEUED, BulkJobStatus.RUNNING], updated_at__lt=stale)
    requeued = 0
    for job_id, attempts in lost.values_list("pk", "attempts")[:limit]:
        mine = lost.filter(pk=job_id)
        if attempts >= MAX_ATTEMPTS:
            mine.update(status=BulkJobStatus.FAILED, run_token="", finished_at=now, updated_at=now,
                        error_message=f"The run was started {attempts} times and never finished.")
            continue
        # Back to queued without a holder: a run that is in fact still alive loses its token and stops.
        if mine.update(status=BulkJobStatus.QUEUED, run_token="", updated_at=now):
            logger.warning("bulk job %s: run lost, enqueued again", job_id)
            transaction.on_commit(functools.partial(bulk_enqueue, job_id))
            requeued += 1
    return requeued


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def bulk_job_status(job: BulkJob) -> str:
    """queued, running, failed; when finished: dry_run (a dry run) or done (a real run)."""
    if job.status == BulkJobStatus.DONE and job.dry_run:
        return BulkJobStatus.DRY_RUN
    return str(job.status)


def bulk_job_finished(job: BulkJob) -> bool:
    return job.status in (BulkJobStatus.DONE, BulkJobStatus.FAILED)


def bulk_job_get(*, tenant: Any, job_id: int, user: Any = None) -> BulkJob:
    """One bulk job of ``tenant``; another tenant's job is NotFound. With ``user``: ``Order:read``, and a
    line-limited user (issue 5 §1) sees only their own jobs (another's rows name lines outside theirs)."""
    qs = BulkJob.objects.filter(tenant=tenant, pk=job_id)
    if user is not None:
        authorize(user=user, action=actions.ORDER_READ)
        if is_line_limited(user=user):
            qs = qs.filter(requested_by=user)
    job = qs.first()
    if job is None:
        raise NotFound(_("No such bulk upload."))
    return job


def bulk_result_csv(*, tenant: Any, job_id: int, user: Any = None) -> bytes:
    """The job's rows as uploaded plus the result columns: UTF-8 with BOM (Excel opens it), CRLF."""
    job = bulk_job_get(tenant=tenant, job_id=job_id, user=user)
    header: list[str] = [c for c, _v in job.results[0]["input"]] if job.results else bulk_columns(job.kind)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*header, *RESULT_COLUMNS])
    for r in job.results:
        values = dict((c, v) for c, v in r.get("input", []))
        writer.writerow([csv_safe(values.get(c, "")) for c in header]
                        + [csv_safe(r.get("result", "")), r.get("order_id") or "", r.get("effective_date") or "",
                           csv_safe(r.get("code", "")), csv_safe(r.get("message", ""))])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
