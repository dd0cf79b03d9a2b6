"""The `kaisen` command (X-API): client commands over real HTTP, demo data, and `kaisen serve` itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest
from typer.testing import CliRunner

from kaisen.cli import app
from kaisen.core.numbers import iccid_normalize
from kaisen.demo import TENANTS, demo_create
from kaisen.lines.models import Line, LineStatus, SimSize
from tests.conftest import make_world
from tests.factories import PASSWORD

runner = CliRunner()


def _run(args: list[str], env: dict[str, str]) -> Any:
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def _err(res: Any) -> Any:
    """The JSON error line on stderr (the live server thread may log to the same stream before it)."""
    return json.loads(res.stderr.strip().splitlines()[-1])


@pytest.fixture
def cli_env(live_server: Any, tmp_path: Path) -> dict[str, str]:
    return {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"),
            "KAISEN_TOKEN": "", "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}


@pytest.mark.django_db(transaction=True)
def test_client_commands_login_list_get_and_errors(cli_env: dict[str, str]) -> None:
    """M-LINE-1, X-API, T-2: login keeps a token; lines list/get print JSON; errors exit 1 with the code."""
    a, b = make_world(n_lines=5), make_world(n_lines=2)

    res = _run(["lines", "list"], cli_env)
    assert res.exit_code == 1 and "kaisen login" in res.stderr

    res = _run(["login", "--operator-id", a.tenant.public_id, "--username", a.user.username,
                "--password", "wrong-password-1"], cli_env)
    assert res.exit_code == 1
    assert _err(res)["code"] == "AUTHENTICATION_FAILED"

    res = _run(["login", "--operator-id", a.tenant.public_id, "--username", a.user.username,
                "--password", PASSWORD], cli_env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["operator_id"] == a.tenant.public_id
    saved = Path(cli_env["KAISEN_CONFIG_DIR"]) / "credentials.json"
    assert saved.exists() and oct(saved.stat().st_mode & 0o777) == "0o600"

    res = _run(["lines", "list", "--limit", "2"], cli_env)
    assert res.exit_code == 0, res.output
    page = json.loads(res.stdout)
    assert len(page["items"]) == 2 and page["next_cursor"]

    res = _run(["lines", "list", "--all"], cli_env)
    assert res.exit_code == 0, res.output
    every = json.loads(res.stdout)
    assert sorted(x["iccid"] for x in every) == sorted(line.iccid for line in a.lines)

    res = _run(["lines", "get", a.line.msisdn], cli_env)
    assert res.exit_code == 0 and json.loads(res.stdout)["iccid"] == a.line.iccid
    res = _run(["lines", "get", a.line.iccid], cli_env)
    assert res.exit_code == 0 and json.loads(res.stdout)["id"] == a.line.pk
    res = _run(["lines", "get", "--id", str(a.line.pk)], cli_env)
    assert res.exit_code == 0 and json.loads(res.stdout)["msisdn"] == a.line.msisdn

    # Another tenant's line is not found, by number, serial or ID (T-2).
    for args in (["lines", "get", b.line.msisdn], ["lines", "get", b.line.iccid],
                 ["lines", "get", "--id", str(b.line.pk)]):
        res = _run(args, cli_env)
        assert res.exit_code == 1
        err = _err(res)
        assert err["status"] == 404 and err["code"] == "NOT_FOUND"
        assert b.line.iccid not in res.stdout

    res = _run(["lines", "get", "03-1234-5678"], cli_env)
    assert res.exit_code == 1 and _err(res)["code"] == "INVALID_PHONE_NUMBER"
    res = _run(["lines", "list", "--status", "sleeping"], cli_env)
    assert res.exit_code == 1 and _err(res)["status"] == 400

    res = _run(["logout"], cli_env)
    assert res.exit_code == 0
    assert _run(["lines", "list"], cli_env).exit_code == 1


@pytest.mark.django_db(transaction=True)
def test_apikeys_commands_and_key_login(cli_env: dict[str, str]) -> None:
    """X-API: create a key (secret printed once), use it through the environment, revoke it -> 401."""
    a = make_world(n_lines=1)
    env = {**cli_env, "KAISEN_TOKEN": a.token}
    res = _run(["apikeys", "create", "nightly export"], env)
    assert res.exit_code == 0, res.output
    created = json.loads(res.stdout)
    assert created["secret"] and created["key_id"].startswith("KK")

    listed = json.loads(_run(["apikeys", "list"], env).stdout)
    assert created["key_id"] in [k["key_id"] for k in listed]
    assert all("secret" not in k for k in listed)

    key_env = {**cli_env, "KAISEN_API_KEY_ID": created["key_id"], "KAISEN_API_KEY_SECRET": created["secret"]}
    res = _run(["lines", "get", a.line.msisdn], key_env)
    assert res.exit_code == 0 and json.loads(res.stdout)["iccid"] == a.line.iccid

    res = _run(["apikeys", "revoke", created["key_id"]], env)
    assert res.exit_code == 0 and json.loads(res.stdout)["revoked_at"]
    res = _run(["lines", "get", a.line.msisdn], key_env)
    assert res.exit_code == 1 and _err(res)["status"] == 401


@pytest.mark.django_db
def test_demo_json_and_data_shape() -> None:
    """Demo data (issue 2 §7, M-DL-4): three tenants, users with passwords, every status and size,
    unactivated OTA SIMs with a temporary (docomo) or no (SoftBank) number, valid numbers and ICCIDs."""
    res = runner.invoke(app, ["demo", "--lines", "400", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["created"] is True and out["lines"] == 400
    assert [t["operator_id"] for t in out["tenants"]] == [t["public_id"] for t in TENANTS]
    assert all(len(t["users"]) == 2 and all(u["password"] for u in t["users"]) for t in out["tenants"])
    assert out["staff"]["username"] == "operator_admin"

    lines = Line.objects.filter(tenant__public_id__in=[t["public_id"] for t in TENANTS])
    assert lines.count() == 400
    assert set(lines.values_list("status", flat=True)) == set(LineStatus.values)
    assert set(lines.values_list("sim_size", flat=True)) == set(SimSize.values)
    assert set(lines.values_list("carrier", flat=True)) == {"docomo", "softbank", "au"}
    assert lines.filter(status=LineStatus.NOT_ACTIVATED, is_ota=True, carrier="softbank", msisdn__isnull=True).exists()
    assert lines.filter(status=LineStatus.NOT_ACTIVATED, is_ota=True, carrier="docomo",
                        msisdn_is_temporary=True).exists()
    for line in lines:
        assert iccid_normalize(line.iccid) == line.iccid
        if line.msisdn:
            assert phonenumbers.is_valid_number(phonenumbers.parse(line.msisdn, "JP")), line.msisdn
        if line.status in (LineStatus.ACTIVE, LineStatus.SUSPENDED):
            assert line.msisdn and line.started_on
    assert lines.filter(msisdn__isnull=False).values("msisdn").distinct().count() == lines.filter(
        msisdn__isnull=False).count()

    # Running it again does not duplicate anything; it reports what is there.
    again = json.loads(runner.invoke(app, ["demo", "--json"], catch_exceptions=False).stdout)
    assert again["created"] is False and again["lines"] == 400


@pytest.mark.django_db
def test_demo_is_deterministic_per_seed() -> None:
    """`kaisen demo --seed S` gives the same lines every time; another seed gives others."""
    import datetime as dt

    day = dt.date(2026, 11, 22)

    def snapshot() -> list[tuple[Any, ...]]:
        return list(Line.objects.order_by("iccid").values_list("iccid", "msisdn", "status", "sim_size", "plan__code",
                                                               "started_on"))

    demo_create(lines=150, seed=7, today=day)
    first = snapshot()
    demo_create(lines=150, seed=7, today=day, reset=True)
    assert snapshot() == first
    demo_create(lines=150, seed=8, today=day, reset=True)
    assert snapshot() != first


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_embedded_default_runs_the_task_worker_in_process(tmp_path: Path) -> None:
    """Issue 2 §2: with no configuration, `kaisen serve` uses SQLite under KAISEN_DATA_DIR and runs the task
    worker in the same process: an API-key notice mail (queued as a task) lands in the mail directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAISEN_SECRET_KEY")}
    env["KAISEN_DATA_DIR"] = str(tmp_path / "data")
    kaisen = [sys.executable, "-m", "kaisen.cli"]
    subprocess.run([*kaisen, "migrate"], env=env, check=True, capture_output=True, timeout=180)
    demo = subprocess.run([*kaisen, "demo", "--lines", "30", "--json"], env=env, check=True, capture_output=True,
                          timeout=180)
    creds = json.loads(demo.stdout)["tenants"][0]
    assert (tmp_path / "data" / "kaisen.sqlite3").exists()
    assert (tmp_path / "data" / "secret_key").exists()

    port = _free_port()
    proc = subprocess.Popen([*kaisen, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/v1/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "kaisen serve did not answer within 60 s"
                time.sleep(0.3)
        user = creds["users"][0]
        token = httpx.post(f"{base}/api/v1/auth", json={"operator_id": creds["operator_id"],
                                                         "username": user["username"],
                                                         "password": user["password"]}).json()["token"]
        resp = httpx.post(f"{base}/api/v1/api-keys", json={"name": "worker check"},
                          headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 201, resp.text
        key_id = resp.json()["key_id"]
        mail_dir = tmp_path / "data" / "mail"
        deadline = time.monotonic() + 30
        found = ""
        while not found and time.monotonic() < deadline:
            for f in mail_dir.glob("*") if mail_dir.exists() else []:
                text = f.read_text(errors="replace")
                if key_id in text:
                    found = text
            time.sleep(0.3)
        assert found, "the notice mail was not sent by the in-process worker within 30 s"
        assert resp.json()["secret"] not in found  # a security notice never carries the secret
    finally:
        proc.terminate()
        proc.wait(timeout=30)
