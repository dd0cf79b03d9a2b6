"""X-AUDIT / T-2: the audit log page, its CSV export, ``GET /api/v1/audit`` and ``kaisen audit`` — root
users of the tenant only, filters, export format (BOM, CRLF, formula injection neutralised)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django.test import Client

from kaisen.audit.models import AuditEvent
from kaisen.audit.services import audit_record
from kaisen.core.clock import JST
from tests.conftest import ApiClient, TenantWorld
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _web(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _token(user) -> str:  # type: ignore[no-untyped-def]
    from kaisen.accounts.services import _issue

    # A bearer token as after a password login (a user without a role may not create API keys, issue 5 §6).
    return _issue(user, None).token


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline="")))


# --- who may read it --------------------------------------------------------------------------------

def test_page_export_and_api_are_for_root_users_only_x_audit(tenant_a: TenantWorld) -> None:
    clerk = UserFactory(tenant=tenant_a.tenant, is_root=False)
    assert _web(tenant_a.user).get("/audit/").status_code == 200
    assert _web(tenant_a.user).get("/audit/export.csv").status_code == 200
    assert _web(clerk).get("/audit/").status_code == 403
    assert _web(clerk).get("/audit/export.csv").status_code == 403
    assert Client().get("/audit/").status_code == 302  # to the login page
    assert Client().get("/audit/export.csv").status_code == 302
    assert tenant_a.api().get("/api/v1/audit").status_code == 200
    assert tenant_a.api().get("/api/v1/audit/export").status_code == 200
    forbidden = ApiClient(_token(clerk), Client()).get("/api/v1/audit")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "PERMISSION_DENIED"
    assert forbidden.json()["action"] == "Audit:read"  # issue 5 §1: the missing action is named
    assert ApiClient(_token(clerk), Client()).get("/api/v1/audit/export").status_code == 403
    for path in ("/api/v1/audit", "/api/v1/audit/export"):
        assert ApiClient(None, Client()).get(path).status_code == 401
        assert ApiClient("kst_not-a-token", Client()).get(path).status_code == 401


def test_entries_never_cross_tenants_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    audit_record(action="line.secret_of_a", tenant=tenant_a.tenant, user=tenant_a.user, reason="A-only")
    page = tenant_b.api().get("/api/v1/audit", {"limit": 500}).json()
    assert page["items"] and all(i["action"] != "line.secret_of_a" for i in page["items"])
    ids = set(AuditEvent.objects.filter(tenant=tenant_b.tenant).values_list("id", flat=True))
    assert {i["id"] for i in page["items"]} <= ids
    # Filtering by another tenant's user shows nothing (no existence leak), on every interface.
    assert tenant_b.api().get("/api/v1/audit", {"user_id": tenant_a.user.pk}).json()["count"] == 0
    export = tenant_b.api().get("/api/v1/audit/export").getvalue()
    assert b"A-only" not in export and b"secret_of_a" not in export
    web = _web(tenant_b.user)
    assert "secret_of_a" not in web.get("/audit/").content.decode()
    assert "secret_of_a" not in b"".join(web.get("/audit/export.csv").streaming_content).decode()
    # An unknown user choice is refused, not answered with the other tenant's data.
    assert web.get("/audit/", {"user": tenant_a.user.pk}).status_code == 400
    assert web.get("/audit/export.csv", {"user": tenant_a.user.pk}).status_code == 400


# --- the fields -------------------------------------------------------------------------------------

def test_entries_carry_user_agent_and_reason_x_audit(tenant_a: TenantWorld) -> None:
    client = Client(HTTP_USER_AGENT="KaisenTest/1.0 (audit)")
    response = client.post("/api/v1/api-keys", {"name": "ua"}, content_type="application/json",
                           headers={"Authorization": f"Bearer {tenant_a.token}"})
    assert response.status_code == 201
    event = AuditEvent.objects.filter(action="apikey.create").latest("id")
    assert event.user_agent == "KaisenTest/1.0 (audit)"
    audit_record(action="line.cancel", tenant=tenant_a.tenant, user=tenant_a.user, reason="  end of project  ")
    assert AuditEvent.objects.latest("id").reason == "end of project"
    item = tenant_a.api().get("/api/v1/audit", {"family": "line"}).json()["items"][0]
    assert item["reason"] == "end of project"
    assert "end of project" in _web(tenant_a.user).get("/audit/").content.decode()


# --- filters ----------------------------------------------------------------------------------------

def _seed(world: TenantWorld) -> tuple:  # type: ignore[type-arg]
    other = UserFactory(tenant=world.tenant, is_root=False, username="filter_clerk")
    for day, action, user, ok in [
        (dt.datetime(2026, 3, 1, 0, 30, tzinfo=JST), "line.suspend", world.user, True),
        (dt.datetime(2026, 3, 2, 23, 59, tzinfo=JST), "auth.login.web", other, False),
        (dt.datetime(2026, 3, 3, 0, 0, tzinfo=JST), "apikey.revoke", other, True),
    ]:
        with time_machine.travel(day, tick=False):
            audit_record(action=action, tenant=world.tenant, user=user, success=ok)
    return other, dt.date(2026, 3, 1), dt.date(2026, 3, 2)


def test_filters_date_user_family_success_x_audit(tenant_a: TenantWorld) -> None:
    other, first, second = _seed(tenant_a)
    api = tenant_a.api()

    def actions(**params) -> list[str]:  # type: ignore[no-untyped-def]
        return [i["action"] for i in api.get("/api/v1/audit", params).json()["items"]]

    # Japan-time days, both ends inclusive.
    assert actions(date_from="2026-03-01", date_to="2026-03-02") == ["auth.login.web", "line.suspend"]
    assert actions(date_from="2026-03-03", date_to="2026-03-03") == ["apikey.revoke"]
    assert actions(user_id=other.pk) == ["apikey.revoke", "auth.login.web"]
    assert actions(family="line") == ["line.suspend"]
    assert actions(success="false") == ["auth.login.web"]
    assert actions(family="apikey", user_id=other.pk, date_to="2026-03-03") == ["apikey.revoke"]
    assert api.get("/api/v1/audit", {"family": "nope"}).status_code == 400
    assert api.get("/api/v1/audit", {"date_from": "2026-03-03", "date_to": "2026-03-01"}).status_code == 400
    assert api.get("/api/v1/audit", {"limit": 0}).status_code == 422
    # The web page takes the same filters.
    web = _web(tenant_a.user)
    body = web.get("/audit/", {"date_from": first, "date_to": second, "user": other.pk, "success": "0"}
                   ).content.decode()
    assert "auth.login.web" in body and "line.suspend" not in body and "apikey.revoke" not in body
    body = web.get("/audit/", {"action": "apikey.", "date_from": "2026-03-03", "date_to": "2026-03-03"}
                   ).content.decode()
    assert "apikey.revoke" in body and "auth.login.web" not in body
    assert web.get("/audit/", {"date_from": "2026-03-04", "date_to": "2026-03-01"}).status_code == 400
    rows = _csv(b"".join(web.get("/audit/export.csv", {"user": other.pk, "success": "1"}).streaming_content))
    assert [r[5] for r in rows[1:]] == ["apikey.revoke"]


def test_api_paging_x_audit(tenant_a: TenantWorld) -> None:
    for _ in range(7):
        audit_record(action="line.suspend", tenant=tenant_a.tenant, user=tenant_a.user)
    seen: list[int] = []
    page = 1
    while page:
        body = tenant_a.api().get("/api/v1/audit", {"family": "line", "limit": 3, "page": page}).json()
        assert body["count"] == 7
        seen += [i["id"] for i in body["items"]]
        page = body["next_page"]
    assert len(seen) == 7 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


# --- export -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_export_neutralises_formula_injection_x_audit(tenant_a: TenantWorld, payload: str) -> None:
    audit_record(action="line.cancel", tenant=tenant_a.tenant, user=tenant_a.user, reason=payload,
                 actor=payload, changes={"note": [None, payload]})
    for body in (b"".join(_web(tenant_a.user).get("/audit/export.csv", {"action": "line."}).streaming_content),
                 tenant_a.api().get("/api/v1/audit/export", {"family": "line"}).getvalue()):
        rows = _csv(body)
        header, row = rows[0], rows[1]
        record = dict(zip(header, row, strict=True))
        assert record["user"] == "'" + payload
        stripped = payload.strip()  # audit_record trims the reason
        assert record["reason"] == ("'" + stripped if stripped[0] in "=+-@" else stripped)
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
        assert json.loads(record["changes"]) == {"note": [None, payload]}  # JSON starts with '{': untouched


def test_export_content_x_audit(tenant_a: TenantWorld) -> None:
    audit_record(action="line.cancel", tenant=tenant_a.tenant, user=tenant_a.user, reason="契約終了のため",
                 changes={"status": ["active", "cancelled"]}, ip_address="203.0.113.9", user_agent="UA/1")
    response = _web(tenant_a.user).get("/audit/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    assert response.streaming
    rows = _csv(b"".join(response.streaming_content))
    assert rows[1][5] == "audit.export.web"  # the export records itself first
    del rows[1]
    assert rows[0] == ["time_jst", "user", "user_id", "ip_address", "user_agent", "action", "target_type",
                       "target_id", "target", "changes", "reason", "success"]
    record = dict(zip(rows[0], rows[1], strict=True))
    event = AuditEvent.objects.filter(tenant=tenant_a.tenant, action="line.cancel").get()
    assert record["time_jst"] == event.at.astimezone(JST).isoformat(timespec="seconds")
    assert record["time_jst"].endswith("+09:00")
    assert (record["user"], record["user_id"], record["ip_address"], record["user_agent"]) == (
        tenant_a.user.audit_label, str(tenant_a.user.pk), "203.0.113.9", "UA/1")
    assert (record["action"], record["reason"], record["success"]) == ("line.cancel", "契約終了のため", "true")
    assert json.loads(record["changes"]) == {"status": ["active", "cancelled"]}
    assert len(rows) == AuditEvent.objects.filter(tenant=tenant_a.tenant).count()


def test_export_streams_in_chunks_x_audit(tenant_a: TenantWorld) -> None:
    from kaisen.audit.export import csv_chunks
    from kaisen.audit.selectors import audit_event_list

    for _ in range(12):
        audit_record(action="line.suspend", tenant=tenant_a.tenant, user=tenant_a.user)
    chunks = list(csv_chunks(audit_event_list(tenant=tenant_a.tenant), chunk_rows=5))
    total = AuditEvent.objects.filter(tenant=tenant_a.tenant).count()
    assert len(chunks) == 1 + -(-total // 5)
    assert chunks[0].startswith("\ufefftime_jst,")


# --- CLI --------------------------------------------------------------------------------------------

def test_cli_audit_list_and_export_x_audit(tenant_a: TenantWorld, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``kaisen audit list/export`` call the API; here the HTTP layer is Django's test client."""
    import httpx
    from typer.testing import CliRunner

    from kaisen.cli import app

    audit_record(action="line.cancel", tenant=tenant_a.tenant, user=tenant_a.user, reason="=cmd")
    client = Client()

    def handler(request: httpx.Request) -> httpx.Response:
        response = client.generic(request.method, request.url.raw_path.decode(),
                                  headers={"Authorization": request.headers["Authorization"]})
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return httpx.Response(response.status_code, content=content,
                              headers={"Content-Type": response["Content-Type"]})

    transport = httpx.MockTransport(handler)
    real_request, real_stream = httpx.request, httpx.stream

    def fake_request(method, url, **kw):  # type: ignore[no-untyped-def]
        with httpx.Client(transport=transport) as c:
            return c.request(method, url, **{k: v for k, v in kw.items() if k != "timeout"})

    from contextlib import contextmanager

    @contextmanager
    def fake_stream(method, url, **kw):  # type: ignore[no-untyped-def]
        with httpx.Client(transport=transport) as c, c.stream(
                method, url, **{k: v for k, v in kw.items() if k != "timeout"}) as r:
            yield r

    monkeypatch.setattr(httpx, "request", fake_request)
    monkeypatch.setattr(httpx, "stream", fake_stream)
    monkeypatch.setenv("KAISEN_URL", "http://testserver")
    monkeypatch.setenv("KAISEN_TOKEN", tenant_a.token)
    runner = CliRunner()
    listed = runner.invoke(app, ["audit", "list", "--family", "line", "--limit", "5"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["items"][0]["reason"] == "=cmd"
    out = tmp_path / "audit.csv"
    exported = runner.invoke(app, ["audit", "export", "--family", "line", "-o", str(out)], catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    rows = _csv(out.read_bytes())
    assert dict(zip(rows[0], rows[1], strict=True))["reason"] == "'=cmd"
    assert real_request is not httpx.request and real_stream is not httpx.stream
