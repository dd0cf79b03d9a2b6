"""The carrier's usage files: what Kaisen accepts, and how one row is read (issue 4 §1; docs/usage.md).

Both kinds are CSV, UTF-8 (a byte-order mark is allowed), one header row naming the columns (any order;
unknown columns are ignored), comma-separated, optionally gzip-compressed (recognised by the ``.gz``
extension or by gzip's magic bytes). Times are Japan time (JST, +09:00; Japan has no daylight saving)
unless the value carries its own offset.

Call / SMS detail records (``kind=calls``)::

    record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service
    CDR-0000001,09012345678,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice

Daily data usage per line (``kind=data``)::

    date,msisdn,iccid,bytes
    2026-05-01,09012345678,,123456789

A row that cannot be read becomes an entry of the file's error report (row number and reason) and is not
loaded; the other rows are.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeAlias

from kaisen.carriers.usage_columns import CALL_COLUMNS, DATA_COLUMNS
from kaisen.usage.classify import ClassifyError, classify
from kaisen.usage.models import CallType, UsageFileKind

JST = dt.timezone(dt.timedelta(hours=9), "JST")

CALL_REQUIRED = ("record_id", "msisdn", "start", "duration_ds", "destination")
DATA_REQUIRED = ("date", "bytes")

MAX_RECORD_ID = 40
MAX_AREA = 64
MAX_DURATION_DS = 10 * 24 * 3600 * 10  # a call longer than ten days is a broken record
COUNTED_TYPES = frozenset({CallType.DIRECTORY_ASSISTANCE, CallType.SMS, CallType.SMS_INTERNATIONAL})
_MSISDN = re.compile(r"^0\d{10}$")
_ICCID = re.compile(r"^89\d{17,18}$")
_HYPHENS = str.maketrans("", "", "-‐－ ")
_INTERNAL = {"": False, "0": False, "1": True, "外線": False, "内線": True, "false": False, "true": True}


class FileFormatError(ValueError):
    """The file as a whole cannot be read (no header, missing columns, broken gzip...)."""


class RowError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


#: A good call row as staged, in the column order of ``ingest.CALL_STAGE_COLUMNS``: row_no, record_id,
#: msisdn, started_at, duration_ds, units, billing_month, destination_number, destination_area, call_type,
#: is_internal, tax_exempt. Tuples, not objects: a file may have ten million rows.
CallRow: TypeAlias = tuple[Any, ...]
#: A good data row as staged: row_no, msisdn, iccid, day, bytes_used.
DataRow: TypeAlias = tuple[Any, ...]
#: How a start time is handed to the database: the aware datetime itself (PostgreSQL COPY), or the text
#: Django's SQLite backend stores (UTC, no offset).
Stamp = Callable[[dt.datetime], Any]


_NINE_HOURS = dt.timedelta(hours=9)


def stamp_aware(value: dt.datetime) -> Any:
    """``value`` is a naive Japan time; PostgreSQL's COPY gets it as text with its offset."""
    return f"{value}+09:00"


def stamp_binary(value: dt.datetime) -> Any:
    """``value`` is a naive Japan time; PostgreSQL's binary COPY gets the aware datetime (no text to parse)."""
    return value.replace(tzinfo=JST)


def stamp_sqlite(value: dt.datetime) -> Any:
    """``value`` is a naive Japan time; Django's SQLite backend stores UTC without offset (str of the value)."""
    return str(value - _NINE_HOURS)


def open_text(fileobj: IO[bytes], name: str = "") -> IO[str]:
    """The file as UTF-8 text; gzip when the name ends in ``.gz`` or the content starts with gzip's magic."""
    head = fileobj.read(2)
    fileobj.seek(0)
    raw: IO[bytes] = fileobj
    if head == b"\x1f\x8b" or name.lower().endswith(".gz"):
        raw = gzip.GzipFile(fileobj=fileobj, mode="rb")  # type: ignore[assignment]
    # Undecodable bytes become U+FFFD and the row is rejected, instead of failing the whole file; the
    # handler notes that it happened, so rows are searched for U+FFFD only in a file that has any.
    wrapper = io.TextIOWrapper(raw, encoding="utf-8-sig", errors=_REPLACE_AND_NOTE, newline="")  # type: ignore[arg-type]
    _NOTES.replaced = False  # per thread: a file is decoded and read in the thread that imports it
    return wrapper


_REPLACE_AND_NOTE = "kaisen-replace-and-note"
_NOTES = threading.local()


def _replace_and_note(exc: UnicodeError) -> tuple[str, int]:
    _NOTES.replaced = True
    return codecs.replace_errors(exc)  # type: ignore[arg-type,return-value]


codecs.register_error(_REPLACE_AND_NOTE, _replace_and_note)


def detect_kind(header: list[str]) -> str:
    names = {h.strip().lower() for h in header}
    if "record_id" in names:
        return UsageFileKind.CALLS
    if "bytes" in names:
        return UsageFileKind.DATA
    raise FileFormatError("the header names neither a call file (record_id, …) nor a data file (date, bytes, …)")


def _positions(header: list[str], columns: tuple[str, ...], required: tuple[str, ...]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise FileFormatError(f"missing column(s): {', '.join(missing)}")
    return {c: names.index(c) for c in columns if c in names}


def parse_start(value: str, now_jst: dt.datetime) -> dt.datetime:
    """The start as a naive Japan time (an offset in the value is honoured and converted)."""
    try:
        started = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            started = dt.datetime.fromisoformat(value.strip().replace("/", "-"))
        except ValueError as exc:
            raise RowError("bad_start", f"start {value!r} is not a date-time (YYYY-MM-DD hh:mm:ss.s)") from exc
    if started.tzinfo is not None:
        started = started.astimezone(JST).replace(tzinfo=None)
    if started > now_jst:
        raise RowError("future_date", f"start {value!r} is in the future")
    if started.year < 2000:
        raise RowError("bad_start", f"start {value!r} is before 2000")
    return started


def _int(value: str, code: str, what: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        number = int(value.strip())
    except ValueError as exc:
        raise RowError(code, f"{what} {value!r} is not a whole number") from exc
    if number < minimum:
        raise RowError(code, f"{what} {number} is below {minimum}")
    if maximum is not None and number > maximum:
        raise RowError(code, f"{what} {number} is above {maximum}")
    return number


def _msisdn(value: str, *, required: bool = True) -> str:
    number = value.translate(_HYPHENS)
    if not number and not required:
        return ""
    if not _MSISDN.match(number):
        raise RowError("bad_msisdn", f"phone number {value!r} is not 11 digits beginning with 0")
    return number


def call_reader(pos: dict[str, int], now: dt.datetime, stamp: Stamp, *,
                dates: bool = False) -> Callable[[list[str], int], CallRow]:
    """A function reading one call row (fields, line number) → the staged tuple, or raising RowError.

    Built once per file with everything it needs bound locally: it runs ten million times for a large
    file, so the common case (digits-only numbers, plain values) takes the short path and the
    classification is cached by what it depends on (the number's first four digits, or the whole short
    number, with service, roaming and network)."""
    i_rid, i_msisdn, i_start, i_dur, i_dest, i_area, i_net, i_int, i_count, i_roam, i_service = (
        pos.get(c, -1) for c in CALL_COLUMNS)
    now_jst = now.astimezone(JST).replace(tzinfo=None)
    types: dict[tuple[str, str, str, str], tuple[str, bool, bool]] = {}
    months: dict[tuple[int, int], Any] = {}
    tenth = dt.timedelta(microseconds=100_000)
    tick = dt.timedelta(microseconds=1)
    fromiso = dt.datetime.fromisoformat
    counted = {t.value for t in COUNTED_TYPES}

    def read(fields: list[str], row_no: int) -> CallRow:
        fields.append("")  # a column the file does not have reads as "" (index -1)
        record_id = fields[i_rid].strip()
        if not record_id or len(record_id) > MAX_RECORD_ID:
            raise RowError("bad_record_id", f"record ID must be 1-{MAX_RECORD_ID} characters")
        msisdn = fields[i_msisdn]
        if not (len(msisdn) == 11 and msisdn.isdigit() and msisdn[0] == "0"):
            msisdn = _msisdn(msisdn.strip())
        raw_start = fields[i_start]
        try:
            started = fromiso(raw_start)
            if started.tzinfo is not None or started > now_jst or started.year < 2000:
                raise ValueError(raw_start)
        except ValueError:
            started = parse_start(raw_start, now_jst)
        raw_dur = fields[i_dur]
        duration = int(raw_dur) if raw_dur.isdigit() else _int(raw_dur, "bad_duration", "duration")
        if duration > MAX_DURATION_DS:
            raise RowError("bad_duration", f"duration {duration} is above {MAX_DURATION_DS}")
        area = fields[i_area].strip()
        if len(area) > MAX_AREA:
            raise RowError("bad_area", f"area is longer than {MAX_AREA} characters")
        internal = fields[i_int].strip().lower()
        if internal not in _INTERNAL:
            raise RowError("bad_internal", f"internal must be 0 or 1, not {internal!r}")
        count_raw = fields[i_count].strip()
        count = 1 if not count_raw or count_raw == "1" else _int(count_raw, "bad_count", "count", minimum=1)
        destination = fields[i_dest].strip()
        service = fields[i_service].strip().lower() or "voice"
        roaming = fields[i_roam].strip().lower()
        network = fields[i_net].strip().lower()
        if destination.isdigit() and len(destination) <= 31:
            key = (destination if len(destination) <= 4 else destination[:4] + "*", service, roaming, network)
            known = types.get(key)
            if known is None:
                try:
                    c = classify(destination=destination, service=service, roaming=roaming, network=network)
                except ClassifyError as exc:
                    raise RowError(exc.code, exc.message) from exc
                known = types[key] = (c.call_type.value, c.tax_exempt, c.call_type.value in counted)
            call_type, exempt, is_counted = known
        else:
            try:
                c = classify(destination=destination, service=service, roaming=roaming, network=network)
            except ClassifyError as exc:
                raise RowError(exc.code, exc.message) from exc
            destination, call_type, exempt = c.destination, c.call_type.value, c.tax_exempt
            is_counted = call_type in counted
        end = started + tenth * duration
        if end > now_jst:
            raise RowError("future_date", "the call ends in the future")
        last = end - tick if duration else end  # K-4: billed in the month of the call's last instant
        month = months.get((last.year, last.month))
        if month is None:
            month = months[(last.year, last.month)] = (dt.date(last.year, last.month, 1) if dates
                                                       else f"{last.year:04d}-{last.month:02d}-01")
        return (row_no, record_id, msisdn, stamp(started), duration, count if is_counted else 1, month,
                destination, area, call_type, _INTERNAL[internal], exempt)

    return read


def read_data_row(fields: list[str], pos: dict[str, int], row_no: int, today: dt.date) -> DataRow:
    def get(name: str) -> str:
        i = pos.get(name)
        return fields[i].strip() if i is not None else ""

    try:
        day = dt.date.fromisoformat(get("date").replace("/", "-"))
    except ValueError as exc:
        raise RowError("bad_date", f"date {get('date')!r} is not a date (YYYY-MM-DD)") from exc
    if day > today:
        raise RowError("future_date", f"date {day} is in the future")
    msisdn = _msisdn(get("msisdn"), required=False)
    iccid = get("iccid").translate(_HYPHENS)
    if iccid and not _ICCID.match(iccid):
        raise RowError("bad_iccid", f"ICCID {iccid!r} is not 19-20 digits beginning with 89")
    if not msisdn and not iccid:
        raise RowError("no_line", "neither a phone number nor an ICCID")
    used = _int(get("bytes"), "bad_bytes", "bytes", maximum=10**15)
    return (row_no, msisdn, iccid, day.isoformat(), used)


@dataclass
class Rejected:
    row_no: int
    code: str
    message: str
    raw: str


def replaced() -> bool:
    """True once the decoder of the file being read in this thread has met a byte that is not UTF-8."""
    return bool(getattr(_NOTES, "replaced", False))


def read_rows(text: IO[str], *, kind: str | None, now: dt.datetime,
              stamp: Stamp = stamp_aware, dates: bool = False) -> tuple[str, Iterator[Any]]:
    """(kind, iterator of CallRow | DataRow | Rejected). Raises FileFormatError for an unreadable header.
    ``dates``: a call's billing month as a ``date`` (binary COPY) instead of its ISO text."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise FileFormatError("the file is empty (a header row is required)") from exc
    except csv.Error as exc:
        raise FileFormatError(f"the header row is not CSV: {exc}") from exc
    found = detect_kind(header)
    if kind and kind != found:
        raise FileFormatError(f"the header is that of a {found} file, not {kind}")
    if found == UsageFileKind.CALLS:
        pos = _positions(header, CALL_COLUMNS, CALL_REQUIRED)
    else:
        pos = _positions(header, DATA_COLUMNS, DATA_REQUIRED)
        if "msisdn" not in pos and "iccid" not in pos:
            raise FileFormatError("a data file needs a msisdn or an iccid column")
    width = len(header)
    today = now.astimezone(JST).date()
    read_call = call_reader(pos, now, stamp, dates=dates) if found == UsageFileKind.CALLS else None

    def rows() -> Iterator[Any]:
        # Row numbers are the file's line numbers (the header is line 1), as a spreadsheet shows them.
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Rejected(reader.line_num, "bad_csv", f"not CSV: {exc}", "")
                continue
            except (EOFError, OSError) as exc:  # a truncated or corrupt gzip stream
                raise FileFormatError(f"the file ends early or is corrupt after line {reader.line_num}: {exc}") from exc
            row_no = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != width:
                yield Rejected(row_no, "bad_columns", f"{len(fields)} columns, the header has {width}",
                               ",".join(fields)[:500])
                continue
            if replaced() and any("\ufffd" in f for f in fields):
                yield Rejected(row_no, "bad_encoding", "the row is not valid UTF-8", ",".join(fields)[:500])
                continue
            try:
                if read_call is not None:
                    yield read_call(fields, row_no)
                else:
                    yield read_data_row(fields, pos, row_no, today)
            except RowError as exc:
                yield Rejected(row_no, exc.code, exc.message, ",".join(fields[:width])[:500])

    return found, rows()
