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

import csv
import datetime as dt
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from kaisen.usage.classify import ClassifyError, billing_month, classify
from kaisen.usage.models import CallType, UsageFileKind

JST = dt.timezone(dt.timedelta(hours=9), "JST")

CALL_COLUMNS = ("record_id", "msisdn", "start", "duration_ds", "destination", "area", "network", "internal",
                "count", "roaming", "service")
CALL_REQUIRED = ("record_id", "msisdn", "start", "duration_ds", "destination")
DATA_COLUMNS = ("date", "msisdn", "iccid", "bytes")
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


@dataclass(frozen=True)
class CallRow:
    """One good call row, as staged (column order of the staging table)."""

    row_no: int
    record_id: str
    msisdn: str
    started_at: dt.datetime
    duration_ds: int
    units: int
    billing_month: dt.date
    destination_number: str
    destination_area: str
    call_type: str
    is_internal: bool
    tax_exempt: bool


@dataclass(frozen=True)
class DataRow:
    row_no: int
    msisdn: str
    iccid: str
    day: dt.date
    bytes_used: int


def open_text(fileobj: IO[bytes], name: str = "") -> IO[str]:
    """The file as UTF-8 text; gzip when the name ends in ``.gz`` or the content starts with gzip's magic."""
    head = fileobj.read(2)
    fileobj.seek(0)
    raw: IO[bytes] = fileobj
    if head == b"\x1f\x8b" or name.lower().endswith(".gz"):
        raw = gzip.GzipFile(fileobj=fileobj, mode="rb")  # type: ignore[assignment]
    # Undecodable bytes become U+FFFD and the row is rejected, instead of failing the whole file.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")  # type: ignore[arg-type]


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


def parse_start(value: str, now: dt.datetime) -> dt.datetime:
    try:
        started = dt.datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError as exc:
        raise RowError("bad_start", f"start {value!r} is not a date-time (YYYY-MM-DD hh:mm:ss.s)") from exc
    if started.tzinfo is None:
        started = started.replace(tzinfo=JST)
    if started > now:
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


def read_call_row(fields: list[str], pos: dict[str, int], row_no: int, now: dt.datetime) -> CallRow:
    def get(name: str) -> str:
        i = pos.get(name)
        return fields[i].strip() if i is not None else ""

    record_id = get("record_id")
    if not record_id or len(record_id) > MAX_RECORD_ID:
        raise RowError("bad_record_id", f"record ID must be 1-{MAX_RECORD_ID} characters")
    msisdn = _msisdn(get("msisdn"))
    started = parse_start(get("start"), now)
    duration = _int(get("duration_ds"), "bad_duration", "duration", maximum=MAX_DURATION_DS)
    area = get("area")
    if len(area) > MAX_AREA:
        raise RowError("bad_area", f"area is longer than {MAX_AREA} characters")
    internal = get("internal").lower()
    if internal not in _INTERNAL:
        raise RowError("bad_internal", f"internal must be 0 or 1, not {internal!r}")
    count_raw = get("count")
    count = _int(count_raw, "bad_count", "count", minimum=1) if count_raw else 1
    try:
        c = classify(destination=get("destination"), service=get("service").lower() or "voice",
                     roaming=get("roaming").lower(), network=get("network").lower())
    except ClassifyError as exc:
        raise RowError(exc.code, exc.message) from exc
    if started + dt.timedelta(microseconds=duration * 100_000) > now:
        raise RowError("future_date", "the call ends in the future")
    month = billing_month(started_at=started, duration_ds=duration, tz=JST)
    return CallRow(row_no=row_no, record_id=record_id, msisdn=msisdn, started_at=started, duration_ds=duration,
                   units=count if c.call_type in COUNTED_TYPES else 1, billing_month=month,
                   destination_number=c.destination, destination_area=area, call_type=c.call_type.value,
                   is_internal=_INTERNAL[internal], tax_exempt=c.tax_exempt)


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
    return DataRow(row_no=row_no, msisdn=msisdn, iccid=iccid, day=day, bytes_used=used)


@dataclass
class Rejected:
    row_no: int
    code: str
    message: str
    raw: str


def read_rows(text: IO[str], *, kind: str | None, now: dt.datetime) -> tuple[str, Iterator[Any]]:
    """(kind, iterator of CallRow | DataRow | Rejected). Raises FileFormatError for an unreadable header."""
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
            raw = ",".join(fields)[:500]
            if len(fields) != width:
                yield Rejected(row_no, "bad_columns", f"{len(fields)} columns, the header has {width}", raw)
                continue
            if "\ufffd" in raw:
                yield Rejected(row_no, "bad_encoding", "the row is not valid UTF-8", raw)
                continue
            try:
                if found == UsageFileKind.CALLS:
                    yield read_call_row(fields, pos, row_no, now)
                else:
                    yield read_data_row(fields, pos, row_no, today)
            except RowError as exc:
                yield Rejected(row_no, exc.code, exc.message, raw)

    return found, rows()
