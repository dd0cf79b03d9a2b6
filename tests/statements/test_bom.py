"""UTF-8 with a byte-order mark for Excel on Windows (issue 14): the file starts with EF BB BF exactly once and
is otherwise the UTF-8 file byte for byte — from the Reports page, the API and the CLI; the writer puts the
mark once however many chunks it writes, and the PostgreSQL COPY path does too."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from typer.testing import CliRunner

from kaisen.statements.encoding import BOM, ENCODINGS
from kaisen.statements.layouts import LAYOUTS
from kaisen.statements.models import Statement
from kaisen.statements.writers import render, write_rows
from tests.statements.test_web_api import make_world_token
from tests.statements.world import NOW, build_world

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "statements"


def test_bom_written_once_at_the_start_however_many_chunks_issue_14() -> None:
    layout = LAYOUTS["invoice"]
    rows = [["x"] * len(layout.header) for _ in range(7)]
    out = io.BytesIO()
    written, size = write_rows(out, layout=layout, rows=rows, encoding="utf-8-sig", flush_rows=2)
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(BOM) == 1
    assert written == 7 and size == len(data)
    assert data[3:] == render(layout, rows, "utf-8")
    assert not render(layout, rows, "utf-8").startswith(BOM)


def test_every_layout_offers_utf8_with_bom_issue_14() -> None:
    assert "utf-8-sig" in ENCODINGS
    assert all("utf-8-sig" in layout.encodings for layout in LAYOUTS.values())


@pytest.mark.django_db
def test_reports_page_and_api_give_utf8_with_bom_issue_14() -> None:
    world = build_world()
    client = Client()
    client.force_login(world.user)
    golden = (GOLDEN / "invoice.utf-8.csv").read_bytes()
    with time_machine.travel(NOW, tick=False):
        page = client.get("/statements/").content.decode()
        assert '<option value="utf-8-sig">UTF-8 (BOM)</option>' in page
        response = client.post("/statements/", {"kind": "invoice", "month": "2026-10", "encoding": "utf-8-sig"})
        assert response.status_code == 302
        statement = Statement.objects.get(tenant=world.tenant)
        assert statement.encoding == "utf-8-sig"
        download = client.get(f"/statements/{statement.pk}/download/")
        assert download["Content-Type"] == "text/csv; charset=utf-8"
        data = b"".join(download.streaming_content)
        assert data[:3] == b"\xef\xbb\xbf" and data[3:] == golden
        assert "UTF-8 (BOM)" in client.get("/statements/").content.decode()

        api = make_world_token(world)
        headers = {"Authorization": f"Bearer {api.token}"}
        created = api.post("/api/v1/statements", {"kind": "cdr", "month": "2026-10", "encoding": "utf-8-sig"},
                           content_type="application/json", headers=headers)
        assert created.status_code == 201, created.content
        assert created.json()["encoding"] == "utf-8-sig"
        body = b"".join(api.get(created.json()["download_url"], headers=headers).streaming_content)
        assert body[:3] == b"\xef\xbb\xbf" and body[3:] == (GOLDEN / "cdr.utf-8.csv").read_bytes()
        bad = api.post("/api/v1/statements", {"kind": "cdr", "month": "2026-10", "encoding": "utf-16"},
                       content_type="application/json", headers=headers)
        assert bad.status_code in (400, 422)


@pytest.mark.django_db
def test_service_accepts_bom_aliases_and_refuses_others_issue_14() -> None:
    from kaisen.core.errors import DomainError
    from kaisen.statements.services import statement_request

    world = build_world()
    with time_machine.travel(NOW, tick=False):
        import datetime as dt

        made = statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=dt.date(2026, 10, 1),
                                 encoding="UTF-8-BOM")
        assert made.encoding == "utf-8-sig"
        with pytest.raises(DomainError) as refused:
            statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=dt.date(2026, 10, 1),
                              encoding="utf-16")
        assert refused.value.code == "VALIDATION_ERROR" and refused.value.field == "encoding"


@pytest.mark.django_db(transaction=True)
def test_cli_requests_utf8_with_bom_issue_14(live_server: Any, tmp_path: Path) -> None:
    from kaisen.accounts.services import api_key_create, token_issue_for_api_key
    from kaisen.cli import app

    with time_machine.travel(NOW, tick=True):
        world = build_world()
        key = api_key_create(user=world.user, name="cli")
        token = token_issue_for_api_key(key_id=key.api_key.key_id, secret=key.secret).token
        env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": token,
               "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
        runner = CliRunner()
        res = runner.invoke(app, ["statements", "request", "invoice", "--month", "2026-10", "--encoding",
                                  "utf-8-sig"], env=env, catch_exceptions=False)
        assert res.exit_code == 0, res.output
        statement = json.loads(res.stdout)
        assert statement["encoding"] == "utf-8-sig"
        out = tmp_path / "invoice.csv"
        res = runner.invoke(app, ["statements", "download", str(statement["id"]), "--out", str(out)], env=env,
                            catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert out.read_bytes() == BOM + (GOLDEN / "invoice.utf-8.csv").read_bytes()
