"""The Reports page (K-5) and the statements API (issue 4 §6, §8): request → progress → download, 48-hour
expiry (410), tenant isolation (404), permissions and a limited user's lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db.models import Q
from django.test import Client, override_settings
from django_tasks_db.models import DBTaskResult

from kaisen.core import files
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.statements import generate, selectors, services
from kaisen.statements.models import Statement, StatementStatus
from kaisen.statements.services import statement_file, statement_generate, statements_purge
from tests.conftest import TenantWorld
from tests.statements.world import NOW, OCTOBER, build_world

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "statements"


def _login(world: Any) -> Client:
    client = Client()
    client.force_login(world.user)
    return client


@pytest.fixture
def world(db: None) -> Any:
    w = build_world()
    w.client = _login(w)
    return w


@pytest.mark.django_db
def test_reports_page_request_and_download_k_5(world: Any) -> None:
    """K-5: choose → create → (ready) → download; the list shows the file with its expiry."""
    with time_machine.travel(NOW, tick=False):
        page = world.client.get("/statements/")
        assert page.status_code == 200
        text = page.content.decode()
        for kind in ("invoice", "cdr", "line_daily", "datausage", "number_charges", "call_detail"):
            assert f'data-testid="create-{kind}"' in text
        assert "OP0000001234" in text
        response = world.client.post("/statements/", {"kind": "invoice", "month": "2026-10", "encoding": "cp932"})
        assert response.status_code == 302
        statement = Statement.objects.get(tenant=world.tenant)
        assert response["Location"] == f"/statements/{statement.pk}/"
        detail = world.client.get(response["Location"])
        assert 'data-testid="statement-download"' in detail.content.decode()
        download = world.client.get(f"/statements/{statement.pk}/download/")
        assert download.status_code == 200
        assert download["Content-Type"] == "text/csv; charset=shift_jis"
        assert 'filename="OP0000001234_INVOICE_202610.csv"' in download["Content-Disposition"]
        assert b"".join(download.streaming_content) == (GOLDEN / "invoice.cp932.csv").read_bytes()
        listing = world.client.get("/statements/").content.decode()
        assert "OP0000001234_INVOICE_202610.csv" in listing and "2026-11-28 10:00" in listing


@pytest.mark.django_db
def test_reports_page_shows_a_refusal_in_the_users_language(world: Any) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 30, 10, tzinfo=NOW.tzinfo), tick=False):
        response = world.client.post("/statements/", {"kind": "call_detail", "month": "2026-11",
                                                      "encoding": "utf-8"})
        assert response.status_code == 409
        assert 'data-testid="statement-error"' in response.content.decode()
        assert not Statement.objects.filter(tenant=world.tenant).exists()


@pytest.mark.django_db
def test_download_after_48_hours_is_410_and_the_purge_deletes_the_file(world: Any) -> None:
    """K-5: a generated file is kept 48 hours; the record stays, the download answers 410 STATEMENT_EXPIRED."""
    api = world.client
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="cdr", month=OCTOBER,
                                               encoding="utf-8")
        path = statement_file(statement)
        assert path.is_file()
    with time_machine.travel(NOW + dt.timedelta(hours=47, minutes=59), tick=False):
        assert api.get(f"/statements/{statement.pk}/download/").status_code == 200
        assert statements_purge() == 0 and path.is_file()
    with time_machine.travel(NOW + dt.timedelta(hours=48, minutes=1), tick=False):
        response = api.get(f"/statements/{statement.pk}/download/")
        assert response.status_code == 410
        assert 'data-code="STATEMENT_EXPIRED"' in response.content.decode()
        assert statements_purge() == 1
        assert not path.exists()
        statement.refresh_from_db()
        assert statement.status == StatementStatus.EXPIRED and statement.file_path == ""
        token_client = make_world_token(world)
        answer = token_client.get(f"/api/v1/statements/{statement.pk}/download",
                                  headers={"Authorization": f"Bearer {token_client.token}"})
        assert answer.status_code == 410 and answer.json()["code"] == "STATEMENT_EXPIRED"
        detail = token_client.get(f"/api/v1/statements/{statement.pk}",
                                  headers={"Authorization": f"Bearer {token_client.token}"}).json()
        assert detail["status"] == "expired" and detail["download_url"] is None


class ApiClientLike:
    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, url: str) -> Any:
        return self.client.get(url, headers={"Authorization": f"Bearer {self.client.token}"})


def make_world_token(world: Any) -> Any:
    from kaisen.accounts.services import api_key_create, token_issue_for_api_key

    new_key = api_key_create(user=world.user, name="stmt")
    issued = token_issue_for_api_key(key_id=new_key.api_key.key_id, secret=new_key.secret)
    client = Client()
    client.token = issued.token  # type: ignore[attr-defined]
    return client


@pytest.mark.django_db
def test_another_tenants_statement_is_404_everywhere(tenant_a: TenantWorld, world: Any) -> None:
    """T-2: tenant A cannot see, poll or download tenant B's statement (pages and API), like a missing one."""
    with time_machine.travel(NOW, tick=False):
        theirs = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)
        client = _login(tenant_a)
        for url in (f"/statements/{theirs.pk}/", f"/statements/{theirs.pk}/download/"):
            assert client.get(url).status_code == 404
        token_client = make_world_token(tenant_a)
        api = ApiClientLike(token_client)
        for suffix in ("", "/download"):
            response = api.get(f"/api/v1/statements/{theirs.pk}{suffix}")
            assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
            assert response.content == api.get(f"/api/v1/statements/987654321{suffix}").content
        assert api.get("/api/v1/statements").json() == []
        assert "OP0000001234" not in client.get("/statements/").content.decode()


@pytest.mark.django_db
def test_api_request_status_list_and_download(world: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        client = make_world_token(world)
        headers = {"Authorization": f"Bearer {client.token}"}
        kinds = client.get("/api/v1/statements/kinds", headers=headers).json()
        invoice = next(k for k in kinds if k["kind"] == "invoice")
        assert invoice["months"][0] == "2026-10" and len(invoice["months"]) == 6
        created = client.post("/api/v1/statements", {"kind": "call_detail", "month": "2026-10", "encoding": "cp932"},
                              content_type="application/json", headers=headers)
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["status"] == "done" and "requirement" not in body and body["progress_percent"] == 100
        assert body["file_name"] == "OP0000001234_CALL-DETAIL_202610.csv"
        assert client.get(f"/api/v1/statements/{body['id']}", headers=headers).json()["rows_total"] == 18
        assert [s["id"] for s in client.get("/api/v1/statements", headers=headers).json()] == [body["id"]]
        download = client.get(body["download_url"], headers=headers)
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == (GOLDEN / "call_detail.cp932.csv").read_bytes()
        refused = client.post("/api/v1/statements", {"kind": "invoice", "month": "2025-01"},
                              content_type="application/json", headers=headers)
        assert refused.status_code == 400 and refused.json()["code"] == "STATEMENT_OUT_OF_WINDOW"
        bad = client.post("/api/v1/statements", {"kind": "invoice", "month": "2026/10"},
                          content_type="application/json", headers=headers)
        assert bad.status_code == 422
        for impossible in ("0000-00", "2026-13"):  # the right shape, no such month: 400, not a 500
            wrong = client.post("/api/v1/statements", {"kind": "invoice", "month": impossible},
                                content_type="application/json", headers=headers)
            assert wrong.status_code == 400 and wrong.json()["code"] == "INVALID_DATE", wrong.content


@pytest.mark.django_db
@override_settings(KAISEN_STATEMENT_INLINE_ROWS=3)
def test_a_large_statement_runs_as_a_task_with_progress(world: Any, django_capture_on_commit_callbacks: Any) -> None:
    """K-5: "being created, please wait" with rows done / total, then the download."""
    with time_machine.travel(NOW, tick=False):
        client = make_world_token(world)
        headers = {"Authorization": f"Bearer {client.token}"}
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(generate, "PROGRESS_EVERY_ROWS", 4)
            with django_capture_on_commit_callbacks(execute=True):
                created = client.post("/api/v1/statements", {"kind": "cdr", "month": "2026-10"},
                                      content_type="application/json", headers=headers)
            assert created.status_code == 202
            body = created.json()
            assert body["status"] == "queued" and body["rows_total"] == 18 and body["download_url"] is None
            tasks = DBTaskResult.objects.filter(task_path="kaisen.statements.tasks.statement_generate_task")
            assert tasks.count() == 1, "enqueued on commit"
            page = world.client.get(f"/statements/{body['id']}/", headers={"HX-Request": "true"})
            assert 'data-testid="statement-rows-done"' in page.content.decode()
            assert "0 of 18 rows" in page.content.decode() or "18 行中 0 行" in page.content.decode()
            assert statement_generate(body["id"]) == "done"
        done = client.get(f"/api/v1/statements/{body['id']}", headers=headers).json()
        assert done["status"] == "done" and done["rows_done"] == 18 and done["progress_percent"] == 100
        finished = world.client.get(f"/statements/{body['id']}/", headers={"HX-Request": "true"})
        assert finished.status_code == 204 and finished["HX-Refresh"] == "true"
        assert statement_generate(body["id"]) == "done", "a second run of the task changes nothing"


@pytest.mark.django_db
def test_progress_is_written_while_the_file_is_written(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """rows_done grows in steps of PROGRESS_EVERY_ROWS while the rows stream (what the page polls)."""
    monkeypatch.setenv("KAISEN_STATEMENT_COPY", "0")  # the Python path (the COPY path: the test below)
    monkeypatch.setattr(generate, "PROGRESS_EVERY_ROWS", 4)
    steps: list[int] = []
    real_write = generate.write_rows

    def recording_write(out: Any, **kwargs: Any) -> Any:
        inner = kwargs["progress"]

        def progress(done: int) -> None:
            inner(done)
            steps.append(Statement.objects.get(tenant=world.tenant).rows_done)

        kwargs["progress"] = progress
        return real_write(out, **kwargs)

    monkeypatch.setattr(generate, "write_rows", recording_write)
    with time_machine.travel(NOW, tick=False):
        services.statement_request(tenant=world.tenant, user=world.user, kind="cdr", month=OCTOBER)
    assert steps == [4, 8, 12, 16, 18]


@pytest.mark.django_db
def test_permissions_are_checked_statement_request_and_download(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Statement:request and Statement:download through kaisen.access.services.authorize (403)."""
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)

        def deny(*, user: Any, action: str) -> None:
            raise DomainError(ErrorCode.PERMISSION_DENIED, details={"action": action})

        monkeypatch.setattr(services, "authorize", deny)
        client = make_world_token(world)
        headers = {"Authorization": f"Bearer {client.token}"}
        response = client.get(f"/api/v1/statements/{statement.pk}/download", headers=headers)
        assert response.status_code == 403 and response.json()["details"]["action"] == "Statement:download"
        response = client.post("/api/v1/statements", {"kind": "invoice", "month": "2026-10"},
                               content_type="application/json", headers=headers)
        assert response.status_code == 403 and response.json()["details"]["action"] == "Statement:request"


@pytest.mark.django_db
def test_a_limited_user_gets_only_their_lines_and_their_own_statements(world: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """line_scope(): a limited user's statement holds only the lines they may see; they do not see (404)
    statements others requested, which may hold other lines."""
    from tests.factories import UserFactory

    limited = UserFactory(tenant=world.tenant, is_root=False)
    allowed = world.lines["b"].pk

    def scope(*, user: Any, prefix: str = "") -> Q:
        return Q(**{f"{prefix}pk__in": [allowed]}) if user.pk == limited.pk else Q()

    monkeypatch.setattr(services, "line_scope", scope)
    monkeypatch.setattr(generate, "line_scope", scope)
    monkeypatch.setattr(selectors, "line_scope", scope)
    monkeypatch.setattr(services, "authorize", lambda *, user, action: None)  # the role system is not tested here
    with time_machine.travel(NOW, tick=False):
        root_statement = services.statement_request(tenant=world.tenant, user=world.user, kind="cdr", month=OCTOBER)
        mine = services.statement_request(tenant=world.tenant, user=limited, kind="cdr", month=OCTOBER)
        assert mine.scoped and mine.rows_total == 2 and root_statement.rows_total == 18
        text = statement_file(mine).read_text(encoding="utf-8")
        assert "08022220002" in text and "09011110001" not in text
        daily = services.statement_request(tenant=world.tenant, user=limited, kind="line_daily")
        assert daily.rows_total == 1
        with pytest.raises(DomainError) as exc:
            services.statement_open(tenant=world.tenant, user=limited, statement_id=root_statement.pk)
        assert exc.value.code == ErrorCode.NOT_FOUND
        assert [s.pk for s in selectors.statement_list(tenant=world.tenant, user=limited)] == [daily.pk, mine.pk]
        assert {s.pk for s in selectors.statement_list(tenant=world.tenant, user=world.user)} == {
            root_statement.pk, mine.pk, daily.pk}


@pytest.mark.django_db
def test_a_failed_generation_leaves_no_partial_file(world: Any, monkeypatch: pytest.MonkeyPatch, settings: Any,
                                                    tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path  # a spool folder of this test's own (kaisen.core.files.spool_dir)
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(generate, "write_rows", broken)
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)
    assert statement.status == StatementStatus.FAILED and "disk full" in statement.error
    assert statement.file_path == "" and not list(files.spool_dir().iterdir())
    with time_machine.travel(NOW, tick=False):
        client = make_world_token(world)
        response = client.get(f"/api/v1/statements/{statement.pk}/download",
                              headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 409 and response.json()["code"] == "STATEMENT_NOT_READY"


@pytest.mark.django_db
def test_k5_download_is_refused_on_the_last_day_too(world: Any) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=NOW.tzinfo), tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="number_charges",
                                               month=OCTOBER)
    with time_machine.travel(dt.datetime(2026, 11, 30, 10, tzinfo=NOW.tzinfo), tick=False):
        response = world.client.get(f"/statements/{statement.pk}/download/")
        assert response.status_code == 409
        assert 'data-code="STATEMENT_UNAVAILABLE_TODAY"' in response.content.decode()
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, tzinfo=NOW.tzinfo), tick=False):
        assert world.client.get(f"/statements/{statement.pk}/download/").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_progress_is_written_during_a_postgresql_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """While COPY holds the connection, progress goes through a second connection and is seen at once."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    world = build_world()
    monkeypatch.setattr(generate, "PROGRESS_EVERY_ROWS", 4)
    seen: list[int] = []
    real_write = generate.write_copy

    def recording_write(out: Any, **kwargs: Any) -> Any:
        inner = kwargs["progress"]

        def progress(done: int) -> None:
            inner(done)
            # Read back through a third connection: the main one is busy with the COPY.
            reader = connection.get_new_connection(connection.get_connection_params())
            try:
                with reader.cursor() as cur:
                    cur.execute("SELECT rows_done FROM statements_statement WHERE tenant_id = %s",
                                (world.tenant.pk,))
                    seen.append(cur.fetchone()[0])
            finally:
                reader.close()

        kwargs["progress"] = progress
        return real_write(out, **kwargs)

    monkeypatch.setattr(generate, "write_copy", recording_write)
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="cdr", month=OCTOBER)
    assert statement.status == "done" and statement.rows_done == 18
    assert seen and seen[-1] == 18, "the progress written during the COPY is visible to the page"


@pytest.mark.django_db
def test_reports_page_follows_the_statement_permissions(world: Any) -> None:
    """Issue 5 §1 on the Reports page (K-5): without either statement action the page is 403; read-only
    (download only) sees the created files but no Create button; accounting (request) sees both."""
    from kaisen.access.services import user_roles_set
    from tests.factories import UserFactory

    def page_for(role: str) -> Any:
        user = UserFactory(tenant=world.tenant, is_root=False)
        user_roles_set(actor=world.user, user_id=user.pk, roles=[role])
        client = Client()
        client.force_login(user)
        return client.get("/statements/")

    with time_machine.travel(NOW, tick=False):
        assert page_for("operations").status_code == 403
        read_only = page_for("read_only")
        assert read_only.status_code == 200 and 'data-testid="create-invoice"' not in read_only.content.decode()
        accounting = page_for("accounting")
        assert accounting.status_code == 200 and 'data-testid="create-invoice"' in accounting.content.decode()
