"""Byte-exact golden files for every statement layout in every encoding its seed allows (issue 4 §6;
M-DL-1..5, K-6, K-7, S-BILL-2): header, quoting, CRLF, encoding, cp932 replacement, formula guard.

The files under tests/golden/statements/ were written by this test with ``KAISEN_REGOLDEN=1`` and then
read line by line against the seeds (docs/statements.md). The same bytes must come out of SQLite and
PostgreSQL. A statement is made through ``statement_request`` (the whole path: rules, streaming writer,
file on disk) at 2026-11-26 10:00 JST.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import time_machine

from kaisen.statements.layouts import LAYOUTS
from kaisen.statements.services import statement_file, statement_request
from tests.statements.world import NOW, OCTOBER, build_world

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "statements"
CASES = [(kind, enc) for kind, layout in LAYOUTS.items() for enc in layout.encodings]


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "encoding"), CASES, ids=[f"{k}-{e}" for k, e in CASES])
def test_layout_matches_its_golden_file(kind: str, encoding: str) -> None:
    world = build_world()
    layout = LAYOUTS[kind]
    with time_machine.travel(NOW, tick=False):
        statement = statement_request(tenant=world.tenant, user=world.user, kind=kind,
                                      month=OCTOBER if layout.period == "month" else None, encoding=encoding)
    assert statement.status == "done", statement.error
    data = statement_file(statement).read_bytes()
    if encoding == "utf-8-sig":  # issue 14: the UTF-8 golden file after one byte-order mark
        assert data[:3] == b"\xef\xbb\xbf" and data.count(b"\xef\xbb\xbf") == 1
        data = data[3:]
        encoding = "utf-8"
    golden = GOLDEN / f"{kind}.{encoding}.csv"
    if os.environ.get("KAISEN_REGOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
    assert data == golden.read_bytes(), f"{statement.file_name} differs from {golden.name}"
    # Every line ends with CRLF, and no bare LF exists outside a quoted cell.
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n")
    assert not data.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    data.decode(encoding)  # decodes in the declared encoding
    assert statement.file_name == layout.file_name("OP0000001234", statement.period)


@pytest.mark.django_db
def test_postgresql_copy_path_and_python_path_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """M-DL-3 on PostgreSQL is streamed by ``COPY … TO STDOUT`` with the cells formatted in SQL; it must give
    exactly what the Python path gives, also for line breaks inside a cell, full-width digits, ``-`` text and
    hours of 100 and more."""
    from django.db import connection

    from kaisen.statements import generate, writers
    from kaisen.usage.models import CallRecord

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    world = build_world()
    odd = CallRecord.objects.filter(tenant=world.tenant).order_by("id").first()
    assert odd is not None
    odd.pk = None
    odd.record_id = "ODD-1"
    odd.destination_area = "改行\r\nあり\n=cmd"
    odd.destination_number = "-１２３"
    odd.duration_ds = 3_600_000  # 100 hours
    odd.save()
    calls: list[str] = []
    real = writers.write_copy

    def spy(*args: object, **kwargs: object) -> object:
        calls.append("copy")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(generate, "write_copy", spy)
    outputs = []
    for copy in ("1", "0"):
        monkeypatch.setenv("KAISEN_STATEMENT_COPY", copy)
        with time_machine.travel(NOW, tick=False):
            statement = statement_request(tenant=world.tenant, user=world.user, kind="cdr", month=OCTOBER,
                                          encoding="cp932")
        outputs.append(statement_file(statement).read_bytes())
    assert calls == ["copy"], "the first run used COPY, the second the Python path"
    assert outputs[0] == outputs[1]
    text = outputs[0].decode("cp932")
    assert "改行  あり =cmd" in text and "'-１２３" in text and "100:00:00" in text
