"""The statement writer (issue 4 §6): cp932 characters it cannot encode, formula injection, CRLF and quoting,
and constant memory whatever the number of rows."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from kaisen.statements import generate
from kaisen.statements.encoding import CP932, REPLACEMENT, UTF8, encode
from kaisen.statements.layouts import LAYOUTS, amount, amount_cents
from kaisen.statements.models import Statement
from kaisen.statements.services import statement_file, statement_generate
from kaisen.statements.writers import neutralise, render, write_rows
from kaisen.usage.models import CallRecord, UsageFile
from tests.statements.world import NOW, OCTOBER, build_world


@pytest.mark.parametrize(("text", "expected"), [
    ("𠮷野家", "吉野家"),  # a known variant, outside the BMP
    ("😀絵文字", REPLACEMENT + "絵文字"),  # emoji: no cp932 form → 〓
    ("①②③", "①②③"),  # NEC special characters are in cp932: unchanged
    ("〜", "～"),  # WAVE DASH → FULLWIDTH TILDE (what Windows shows)
    ("−100", "－100"),  # MINUS SIGN → FULLWIDTH HYPHEN-MINUS
    ("ℌ", "H"),  # no cp932 form, but an NFKC one
    ("髙﨑", "髙﨑"),  # IBM extensions are in cp932
    ("a\u0301", "a" + REPLACEMENT),  # a combining mark alone
])
def test_cp932_never_fails_and_replaces_as_documented(text: str, expected: str) -> None:
    """Shift-JIS output of characters cp932 cannot encode: known mapping, then NFKC, then 〓; never an error."""
    data = encode(text, CP932)
    assert data.decode(CP932) == expected
    assert encode(text, UTF8).decode(UTF8) == text  # UTF-8 keeps everything


@pytest.mark.parametrize(("cell", "expected"), [
    ("=1+2", "'=1+2"),
    ("+81 3 1234", "'+81 3 1234"),
    ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=cmd", "'\t=cmd"),
    ("-100", "-100"),  # a negative amount stays a number
    ("-0.5", "-0.5"),
    ("+14155550100", "+14155550100"),  # an international number is a plain number too
    ("東京", "東京"),
    ("", ""),
])
def test_formula_injection_guard_keeps_plain_numbers(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


def test_text_cells_are_guarded_number_cells_are_not() -> None:
    """Only free-text columns pass the guard; Kaisen's own numbers (amounts, dates) are written as they are."""
    layout = LAYOUTS["invoice"]
    data = render(layout, [["=HYPERLINK(\"x\")", "202610", "@label", "-100", "", "外税10%", "JPY", ""],
                           ["-1+1", "202610", "月額,基本料金", "", "", "非課税", "USD", "-12.5"]], UTF8)
    lines = data.decode().split("\r\n")
    assert lines[1] == '"\'=HYPERLINK(""x"")",202610,\'@label,-100,,外税10%,JPY,'
    assert lines[2] == "'-1+1,202610,\"月額,基本料金\",,,非課税,USD,-12.5"
    assert lines[3] == "" and len(lines) == 4


def test_amounts_show_decimals_only_when_not_whole_m_dl_2() -> None:
    assert [amount(Decimal(v)) for v in ("100.00", "12.50", "0.05", "-100", "-12.30")] == [
        "100", "12.5", "0.05", "-100", "-12.3"]
    assert [amount_cents(v) for v in (10000, 1250, 5, -10000, -1230, None)] == [
        "100", "12.5", "0.05", "-100", "-12.3", ""]


def test_k6_k7_trim_trailing_half_width_spaces_only() -> None:
    layout = LAYOUTS["number_charges"]
    data = render(layout, [["090-1111-0001  ", "100 ", "100", "0", "0", "0\u3000", "JPY ", "", "", "", "", ""]], UTF8)
    assert data.decode().split("\r\n")[1] == "090-1111-0001,100,100,0,0,0\u3000,JPY,,,,,"


def _peak_writing(rows: int) -> int:
    layout = LAYOUTS["cdr"]
    row = ["09011110001", "2026/10/01", "09:05:07", "0312345678", "東京𠮷😀", "00:02:04", "40", "外税10%", "音声",
           "Xi通話料", "", "JPY", ""]
    tracemalloc.start()
    write_rows(_Sink(), layout=layout, rows=(row for _ in range(rows)),
               encoding=CP932)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


class _Sink(io.RawIOBase):
    def write(self, b: Any) -> int:
        return len(b)


def test_writer_memory_is_flat_in_rows() -> None:
    """The writer keeps at most one flush of rows: 10x the rows, about the same peak."""
    small, large = _peak_writing(10_000), _peak_writing(100_000)
    assert large < small * 1.5 + 64_000, (small, large)


@pytest.mark.django_db
def test_generation_memory_is_flat_from_the_database_10k_vs_100k_rows() -> None:
    """Constant memory (issue 4 §6): a CDR statement streamed from the database has about the same Python
    peak at 10,000 and at 100,000 rows (server-side cursor / chunked fetch, flushes of 1,000 rows)."""
    world = build_world()
    line = world.lines["a"]
    source = UsageFile.objects.create(kind="calls", name="memory.csv", sha256="m" * 64)
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

    def add(first: int, last: int) -> None:
        CallRecord.objects.bulk_create([
            CallRecord(tenant=world.tenant, line=line, msisdn=line.msisdn, started_at=start + dt.timedelta(seconds=n),
                       duration_ds=n % 5000, billing_month=OCTOBER, destination_number=f"03{n:08d}",
                       destination_area="東京", call_type="domestic", charge=Decimal(n % 300) / 2,
                       record_id=f"MEM-{n}", source_file=source) for n in range(first, last)], batch_size=5000)

    def peak() -> tuple[int, int]:
        statement = Statement.objects.create(tenant=world.tenant, kind="cdr", period=OCTOBER, encoding="cp932",
                                             file_name="m.csv")
        tracemalloc.start()
        assert statement_generate(statement.pk) == "done"
        _current, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        statement.refresh_from_db()
        statement_file(statement).unlink()
        return statement.rows_done, top

    with time_machine.travel(NOW, tick=False):
        add(0, 10_000)
        rows_small, small = peak()
        add(10_000, 100_000)
        rows_large, large = peak()
    assert (rows_small, rows_large) == (10_000 + 18, 100_000 + 18)
    assert large < small * 1.5, f"peak {small / 1e6:.1f} MB at 10k rows, {large / 1e6:.1f} MB at 100k rows"
    assert generate.PROGRESS_EVERY_ROWS >= 1000
