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
