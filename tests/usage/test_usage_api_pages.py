"""Usage views, API and CLI (issue 4 §7, §8; M-DL-5, K-4, X-PLOT, X-API, T-2) and the operator's import
page (issue 4 §1, T-3)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from typer.testing import CliRunner

from kaisen.cli import app
from kaisen.core import clock
from kaisen.usage.ingest import usage_file_import
from kaisen.usage.models import CallRecord, UnmatchedCall, UsageFile
from tests.conftest import TenantWorld, make_world
from tests.factories import LineFactory, UserFactory

pytestmark = pytest.mark.django_db
HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"
runner = CliRunner()


def _data(world: TenantWorld, days: dict[dt.date, int], name: str = "d.csv") -> None:
    body = "date,msisdn,bytes\n" + "".join(f"{d},{world.line.msisdn},{b}\n" for d, b in days.items())
    usage_file_import(fileobj=io.BytesIO(body.encode()), name=name)


def _calls(world: TenantWorld, n: int, day: dt.date, prefix: str = "C") -> None:
    rows = "".join(f"{prefix}{world.tenant.pk}-{i},{world.line.msisdn},{day} {10 + i // 60:02d}:{i % 60:02d}:00.5,"
                   f"{100 + i},0312345678,東京,,0,1,,voice\n" for i in range(n))
    usage_file_import(fileobj=io.BytesIO((HEADER + rows).encode()), name=f"{prefix}-calls.csv")


def test_line_usage_api_default_window_is_m_dl_5(tenant_a: TenantWorld) -> None:
    """M-DL-5: the newest day is today − 2, with the 6 days before it; last month's total beside it."""
    today = clock.today_jst()
    end = today - dt.timedelta(days=2)
    last_month = (end.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    seeded: dict[dt.date, int] = {}
    for day, count in ((last_month, 1000), (last_month + dt.timedelta(days=3), 24), (end, 500),
                       (end - dt.timedelta(days=6), 70), (end - dt.timedelta(days=7), 9999),
                       (today - dt.timedelta(days=1), 123)):
        seeded[day] = seeded.get(day, 0) + count  # some days coincide near the start of a month
    _data(tenant_a, seeded)
    body = tenant_a.api().get(f"/api/v1/lines/{tenant_a.line.pk}/usage").json()
    window = [end - dt.timedelta(days=6 - i) for i in range(7)]
    assert body["window_end"] == end.isoformat()
    assert [d["date"] for d in body["days"]] == [d.isoformat() for d in window]
    assert {d["date"]: d["bytes"] for d in body["days"]} == {d.isoformat(): seeded.get(d, 0) for d in window}
    assert body["window_bytes"] == sum(seeded.get(d, 0) for d in window)
    assert body["last_month"] == {"month": f"{last_month:%Y-%m}",
                                  "bytes": sum(b for d, b in seeded.items() if d.replace(day=1) == last_month)}

    other = tenant_a.api().get(f"/api/v1/lines/{tenant_a.line.pk}/usage",
                               {"end": (today - dt.timedelta(days=1)).isoformat(), "days": 1}).json()
    assert other["days"] == [{"date": (today - dt.timedelta(days=1)).isoformat(), "bytes": 123}]
    bad = tenant_a.api().get(f"/api/v1/lines/{tenant_a.line.pk}/usage", {"days": 0})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"


def test_usage_of_another_tenants_line_is_404_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    _data(tenant_b, {clock.today_jst() - dt.timedelta(days=2): 777})
    _calls(tenant_b, 3, clock.today_jst() - dt.timedelta(days=1))
    api = tenant_a.api()
    for path in (f"/api/v1/lines/{tenant_b.line.pk}/usage", f"/api/v1/lines/{tenant_b.line.pk}/calls"):
        theirs, missing = api.get(path), api.get(path.replace(str(tenant_b.line.pk), "987654321"))
        assert theirs.status_code == missing.status_code == 404
        assert theirs.content == missing.content
    summary = api.get("/api/v1/usage/summary").json()
    assert summary["data_bytes"] == 0 and summary["calls"] == 0
    client = Client()
    client.force_login(tenant_a.user)
    assert client.get(f"/usage/lines/{tenant_b.line.pk}/").status_code == 404
    assert tenant_b.line.msisdn not in client.get("/usage/").content.decode()


def test_summary_counts_data_calls_minutes_and_sms(tenant_a: TenantWorld) -> None:
    month = clock.today_jst().replace(day=1) - dt.timedelta(days=1)  # a day of last month
    _data(tenant_a, {month: 2048, month - dt.timedelta(days=1): 1024})
    _calls(tenant_a, 4, month)  # durations 100..103 tenths
    sms = (f"S1,{tenant_a.line.msisdn},{month} 09:00:00.0,0,09012345678,携帯,au,0,2,,sms\n")
    usage_file_import(fileobj=io.BytesIO((HEADER + sms).encode()), name="sms.csv")
    body = tenant_a.api().get("/api/v1/usage/summary", {"month": f"{month:%Y-%m}"}).json()
    assert (body["data_bytes"], body["calls"], body["sms"]) == (3072, 4, 2)
    assert body["call_minutes"] == round(406 / 10 / 60, 1)
    day = next(d for d in body["days"] if d["date"] == month.isoformat())
    assert (day["data_bytes"], day["calls"], day["sms"]) == (2048, 4, 2)
    bad = tenant_a.api().get("/api/v1/usage/summary", {"month": "2026-13"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATE"


def test_calls_are_keyset_paged_10_per_page_k_4(tenant_a: TenantWorld) -> None:
    day = clock.today_jst() - dt.timedelta(days=1)
    _calls(tenant_a, 25, day)
    api = tenant_a.api()
    seen: list[str] = []
    params: dict[str, Any] = {"month": f"{day:%Y-%m}"}
    pages = 0
    while True:
        page = api.get(f"/api/v1/lines/{tenant_a.line.pk}/calls", params).json()
        pages += 1
        seen += [c["record_id"] for c in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == 3 and len(seen) == len(set(seen)) == 25
    start_of = dict(CallRecord.objects.filter(record_id__in=seen).values_list("record_id", "started_at"))
    starts = [start_of[r] for r in seen]
    assert starts == sorted(starts)
    bad = api.get(f"/api/v1/lines/{tenant_a.line.pk}/calls", {"cursor": "nonsense"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_CURSOR"


def test_usage_pages_render_with_charts(tenant_a: TenantWorld) -> None:
    end = clock.today_jst() - dt.timedelta(days=2)
    _data(tenant_a, {end: 5 * 1024 * 1024})
    _calls(tenant_a, 2, clock.today_jst() - dt.timedelta(days=1))
    client = Client()
    client.force_login(tenant_a.user)
    page = client.get(f"/usage/lines/{tenant_a.line.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-source="line-usage-data"' in html and "5.0 MB" in html
    assert "chart.umd.min.js" in html and "<script>" not in html  # CSP: no inline script
    overview = client.get("/usage/", {"month": f"{end:%Y-%m}"})  # the month of the data (the 1st has none yet)
    assert overview.status_code == 200 and 'data-source="usage-daily-data"' in overview.content.decode()
    detail = client.get(f"/lines/{tenant_a.line.pk}/").content.decode()
    assert f"/usage/lines/{tenant_a.line.pk}/" in detail
    assert client.get("/usage/", {"month": "nope"}).status_code == 400


def _staff_client() -> Client:
    staff = UserFactory(tenant=None, is_staff=True, is_superuser=True, username="usage_staff")
    client = Client()
    client.force_login(staff)
    return client


def test_operator_imports_a_file_and_downloads_its_error_report(tenant_a: TenantWorld) -> None:
    client = _staff_client()
    day = clock.today_jst() - dt.timedelta(days=1)
    body = (HEADER + f"U1,{tenant_a.line.msisdn},{day} 10:00:00.0,100,0312345678,東京,,0,1,,voice\n"
            f"U2,{tenant_a.line.msisdn},not-a-date,100,0312345678,東京,,0,1,,voice\n"
            f"U3,09077776666,{day} 10:00:00.0,100,0312345678,東京,,0,1,,voice\n").encode()
    response = client.post("/usage/imports/", {"file": SimpleUploadedFile("c.csv", body)})
    f = UsageFile.objects.get(name="c.csv")
    assert response.status_code == 302 and response["Location"] == f"/usage/imports/{f.pk}/"
    assert (f.rows_loaded, f.rows_rejected, f.rows_unmatched) == (1, 1, 1)
    page = client.get(f"/usage/imports/{f.pk}/").content.decode()
    assert "bad_start" in page and "090-7777-6666" in page
    csv_body = b"".join(client.get(f"/usage/imports/{f.pk}/errors.csv").streaming_content).decode("utf-8-sig")
    assert csv_body.splitlines()[1].startswith("3,bad_start,")
    again = client.post("/usage/imports/", {"file": SimpleUploadedFile("c.csv", body)}, follow=True)
    assert "nothing changed" in again.content.decode() or "変更はありません" in again.content.decode()
    assert UsageFile.objects.count() == 1
    LineFactory(tenant=tenant_a.tenant, msisdn="09077776666")
    client.post("/usage/rematch/".replace("/usage/", "/usage/imports/"))
    assert not UnmatchedCall.objects.exists() and CallRecord.objects.count() == 2
    assert "c.csv" in client.get("/usage/imports/").content.decode()


def test_import_pages_are_staff_only_t_3(tenant_a: TenantWorld) -> None:
    client = Client()
    client.force_login(tenant_a.user)
    assert client.get("/usage/imports/").status_code == 403
    assert client.post("/usage/imports/rematch/").status_code == 403


def test_cli_usage_import_and_rematch(tenant_a: TenantWorld, tmp_path: Path) -> None:
    day = clock.today_jst() - dt.timedelta(days=1)
    good = tmp_path / "calls.csv"
    good.write_text(HEADER + f"K1,{tenant_a.line.msisdn},{day} 10:00:00.0,100,0312345678,東京,,0,1,,voice\n"
                    f"K2,09055554444,{day} 10:00:00.0,100,0312345678,東京,,0,1,,voice\n")
    broken = tmp_path / "broken.csv"
    broken.write_text("nothing,useful\n1,2\n")
    res = runner.invoke(app, ["admin", "usage", "import", str(good)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["rows_loaded"], out["rows_unmatched"], out["already_imported"]) == (1, 1, False)
    res = runner.invoke(app, ["admin", "usage", "import", str(good), str(broken)], catch_exceptions=False)
    assert res.exit_code == 1 and "INVALID_USAGE_FILE" in res.stderr
    assert json.loads(res.stdout)["already_imported"] is True
    LineFactory(tenant=tenant_a.tenant, msisdn="09055554444")
    res = runner.invoke(app, ["admin", "usage", "rematch"], catch_exceptions=False)
    assert json.loads(res.stdout)["calls_matched"] == 1


@pytest.mark.django_db(transaction=True)
def test_cli_client_commands_call_the_api(live_server: Any, tmp_path: Path) -> None:
    """X-API: kaisen usage line|summary|calls print the API's JSON; another tenant's line exits 1 (404)."""
    a, b = make_world(n_lines=1), make_world(n_lines=1)
    day = clock.today_jst() - dt.timedelta(days=2)
    _data(a, {day: 4096})
    _calls(a, 12, day)
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": a.token,
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    res = runner.invoke(app, ["usage", "line", a.line.msisdn or ""], env=env, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["days"][-1] == {"date": day.isoformat(), "bytes": 4096}
    res = runner.invoke(app, ["usage", "summary", "--month", f"{day:%Y-%m}"], env=env, catch_exceptions=False)
    assert json.loads(res.stdout)["calls"] == 12
    res = runner.invoke(app, ["usage", "calls", str(a.line.pk), "--month", f"{day:%Y-%m}", "--all"], env=env,
                        catch_exceptions=False)
    assert len(json.loads(res.stdout)) == 12
    res = runner.invoke(app, ["usage", "line", str(b.line.pk)], env=env, catch_exceptions=False)
    assert res.exit_code == 1 and '"NOT_FOUND"' in res.stderr


def test_a_user_limited_to_tagged_lines_sees_only_their_usage(tenant_a: TenantWorld) -> None:
    """Usage:read and line_scope (issue 5 §1): an accounting user limited to one department's lines sees
    that line's usage only; another line of the same tenant is 404, the summary counts only theirs."""
    from kaisen.access.services import (
        line_tags_set,
        tag_create,
        user_line_limits_set,
        user_roles_set,
        user_statements_set,
    )
    from tests.conftest import ApiClient

    day = clock.today_jst() - dt.timedelta(days=2)
    mine, other = tenant_a.lines[0], tenant_a.lines[1]
    body = "date,msisdn,bytes\n" + f"{day},{mine.msisdn},100\n{day},{other.msisdn},5000\n"
    usage_file_import(fileobj=io.BytesIO(body.encode()), name="two.csv")
    root = tenant_a.user
    tag = tag_create(actor=root, kind="department", name="sales")
    line_tags_set(actor=root, line_id=mine.pk, tags=[tag.pk])
    clerk = UserFactory(tenant=tenant_a.tenant, is_root=False)
    user_roles_set(actor=root, user_id=clerk.pk, roles=["accounting"])
    user_line_limits_set(actor=root, user_id=clerk.pk, tag_ids=[tag.pk])
    user_statements_set(actor=root, user_id=clerk.pk, statements=[("allow", "ApiKey:*")])
    client = Client()
    client.force_login(clerk)
    from kaisen.accounts.services import api_key_create, token_issue_for_api_key

    key = api_key_create(user=clerk, name="clerk")
    api = ApiClient(token_issue_for_api_key(key_id=key.api_key.key_id, secret=key.secret).token, Client())
    assert api.get(f"/api/v1/lines/{mine.pk}/usage").json()["window_bytes"] == 100
    assert api.get(f"/api/v1/lines/{other.pk}/usage").status_code == 404
    assert api.get("/api/v1/usage/summary", {"month": f"{day:%Y-%m}"}).json()["data_bytes"] == 100
    assert client.get(f"/usage/lines/{other.pk}/").status_code == 404


def test_a_user_without_usage_read_gets_403(tenant_a: TenantWorld) -> None:
    """A tenant user with no role may only change their own sign-in settings (issue 5 §1)."""
    nobody = UserFactory(tenant=tenant_a.tenant, is_root=False)
    client = Client()
    client.force_login(nobody)
    assert client.get("/usage/").status_code == 403
    assert client.get(f"/usage/lines/{tenant_a.line.pk}/").status_code == 403


def test_back_office_shows_the_usage_tables_read_only(tenant_a: TenantWorld) -> None:
    _calls(tenant_a, 1, clock.today_jst() - dt.timedelta(days=1))
    client = _staff_client()
    for model in ("usagefile", "callrecord", "datausagedaily", "unmatchedcall", "unmatcheddatausage",
                  "usagerowerror", "usagerollup", "usagearchive"):
        assert client.get(f"/admin/usage/{model}/").status_code == 200, model
    record = CallRecord.objects.get()
    assert client.post(f"/admin/usage/callrecord/{record.pk}/delete/").status_code == 403
