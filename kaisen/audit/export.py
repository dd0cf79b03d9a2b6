"""The audit log as CSV (X-AUDIT "export"): UTF-8 with a BOM (Excel opens it as UTF-8), CRLF line ends,
one row per entry, streamed in chunks so a long history never sits in memory.

Spreadsheet formula injection is neutralised: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading apostrophe, so a spreadsheet shows it as text instead of evaluating it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from kaisen.audit.models import AuditEvent
from kaisen.core.clock import JST
from kaisen.core.csvsafe import csv_safe

BOM = "\ufeff"
HEADER = ["time_jst", "user", "user_id", "ip_address", "user_agent", "action", "target_type", "target_id",
          "target", "changes", "reason", "success"]
def event_row(event: AuditEvent) -> list[str]:
    return [csv_safe(v) for v in (
        event.at.astimezone(JST).isoformat(timespec="seconds"), event.actor, event.user_id or "",
        event.ip_address or "", event.user_agent, event.action, event.target_type, event.target_id,
        event.target_label, json.dumps(event.changes, ensure_ascii=False, sort_keys=True) if event.changes else "",
        event.reason, "true" if event.success else "false",
    )]


def csv_chunks(events: QuerySet[AuditEvent] | Iterable[AuditEvent], *, chunk_rows: int = 500) -> Iterator[str]:
    """The CSV text in pieces: the BOM and header first, then ``chunk_rows`` rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield BOM + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    rows = events.iterator(chunk_size=chunk_rows) if isinstance(events, QuerySet) else iter(events)
    for n, event in enumerate(rows, 1):
        writer.writerow(event_row(event))
        if n % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
