"""Writing a layout's rows as CSV bytes, in constant memory (issue 4 §6).

Every statement is written the same way: the header row, then one row per database record, with
``\\r\\n`` line ends (CRLF, as the seeds say for every file), minimal quoting (a cell is quoted only when
it holds a comma, a double quote or a line break; a double quote is doubled), in
UTF-8 (no byte-order mark), UTF-8 with a BOM (for Excel on Windows; the mark is written once, first) or
cp932 (``encoding.py`` says what happens to a character cp932 lacks).

Formula injection: a free-text cell (``Column.kind == TEXT``: names, numbers, labels that come from data)
that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a leading ``'`` (``kaisen.core.csvsafe.csv_safe``)
— unless the whole cell is a plain number (``-100``, ``-0.5``, ``+14155550100``): a spreadsheet reads
those as numbers, not formulas, and a negative amount must stay a number. Numeric cells that Kaisen
formats itself (amounts, dates, byte counts) are never prefixed. K-6/K-7 trim trailing half-width spaces.

Rows are formatted into a small text buffer that is encoded and written every ``flush_rows`` rows, so the
memory used does not grow with the number of rows (the database side streams with ``.iterator()``:
a server-side cursor on PostgreSQL, chunked ``fetchmany`` on SQLite).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from typing import BinaryIO

from kaisen.core.csvsafe import FORMULA_START, csv_safe
from kaisen.statements.encoding import UTF8, UTF8_BOM, encode, preamble
from kaisen.statements.layouts import Layout

_PLAIN_NUMBER = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?\Z")
_LINE_BREAKS = str.maketrans("\r\n", "  ")
_RISKY_START = frozenset(FORMULA_START)  # a set: the row loop tests cell[0] against it


def neutralise(cell: str) -> str:
    """``cell`` made safe to open in a spreadsheet; a plain (negative) number is left as it is."""
    return cell if _PLAIN_NUMBER.match(cell) else csv_safe(cell)


def write_rows(out: BinaryIO, *, layout: Layout, rows: Iterable[Sequence[str]], encoding: str,
               progress: Callable[[int], None] | None = None, progress_rows: int = 5000,
               flush_rows: int = 1000) -> tuple[int, int]:
    """Write the header and ``rows`` to ``out``; ``(rows written, bytes written)``. The text is encoded and
    written every ``flush_rows`` rows; ``progress(n)`` is called every ``progress_rows`` rows and at the end."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    text_columns = layout.text_columns
    trim = layout.trim_trailing_spaces
    written = 0
    start = preamble(encoding)
    out.write(start)
    size = len(start)

    def flush() -> None:
        nonlocal size
        data = encode(buffer.getvalue(), encoding)
        out.write(data)
        size += len(data)
        buffer.seek(0)
        buffer.truncate()

    if layout.header_row:
        writer.writerow(layout.header)
    risky = _RISKY_START
    for row in rows:
        cells = list(row)
        for i in text_columns:
            cell = cells[i]
            if "\n" in cell or "\r" in cell:
                cell = cells[i] = cell.translate(_LINE_BREAKS)
            if cell and cell[0] in risky:
                cells[i] = neutralise(cell)
        if trim:
            cells = [c.rstrip(" ") for c in cells]
        writer.writerow(cells)
        written += 1
        if written % flush_rows == 0:
            flush()
            if progress is not None and written % progress_rows == 0:
                progress(written)
    flush()
    if progress is not None:
        progress(written)
    return written, size


def render(layout: Layout, rows: Iterable[Sequence[str]], encoding: str) -> bytes:
    """The whole file in memory (tests and golden files)."""
    out = io.BytesIO()
    write_rows(out, layout=layout, rows=rows, encoding=encoding)
    return out.getvalue()


def write_copy(out: BinaryIO, *, layout: Layout, sql: str, params: list[object], encoding: str,
               progress: Callable[[int], None] | None = None, progress_rows: int = 5000) -> tuple[int, int]:
    """The PostgreSQL fast path: ``COPY (sql) TO STDOUT (FORMAT csv)`` streamed to ``out`` — the database
    formats and quotes every cell (``Layout.pg_select``); here only the header is written, LF becomes CRLF
    (no cell holds a line break: both paths turn them into spaces) and the text is encoded."""
    import codecs

    from django.db import connection

    header = render(layout, [], encoding)
    out.write(header)
    size, rows, reported = len(header), 0, 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending: list[bytes] = []
    pending_size = 0

    def flush(final: bool = False) -> None:
        nonlocal size, rows, reported, pending_size
        raw = b"".join(pending)
        pending.clear()
        pending_size = 0
        if encoding in (UTF8, UTF8_BOM):  # the database's bytes are UTF-8 already (the BOM is in the header)
            rows += raw.count(b"\n")
            data = raw.replace(b"\n", b"\r\n")
        else:
            text = decoder.decode(raw, final=final)
            rows += text.count("\n")
            data = encode(text.replace("\n", "\r\n"), encoding)
        out.write(data)
        size += len(data)
        if progress is not None and rows - reported >= progress_rows:
            reported = rows
            progress(rows)

    # PostgreSQL sends one message per row: gather them and transcode ~256 kB at a time.
    with connection.cursor() as cursor, cursor.cursor.copy(  # type: ignore[attr-defined]
            f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        for block in copy:
            pending.append(bytes(block))
            pending_size += len(block)
            if pending_size >= 262_144:
                flush()
    flush(final=True)
    if progress is not None:
        progress(rows)
    return rows, size
