"""THE permission matrix (issue 5 §1): every built-in role × every action of the catalogue, through the web
pages, the REST API and the ``kaisen`` CLI. A denied action answers 403 (the API and the CLI name the missing
action); an allowed one never answers 403. The expectations are written out here by hand, from the role
descriptions in docs/access.md, not computed by the engine under test.

Each action is probed through one route of each interface that exists for it (``PROBES``). Where an action
is checked before the object is looked up, an allowed probe on a missing object answers 404; the denied one
answers 403 whatever the object (nothing leaks).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kaisen.access import actions as a
from kaisen.core import clock
from tests.access.helpers import api, member, web
from tests.conftest import TenantWorld, make_world

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)
MISSING = 987_654_321
LINE_KINDS = {a.LINE_SUSPEND: "suspend", a.LINE_RESUME: "resume", a.LINE_CANCEL: "cancellation",
              a.LINE_CHANGE_PLAN: "plan_change", a.LINE_CHANGE_OPTIONS: "voice_options",
              a.LINE_REISSUE_SIM: "sim_reissue", a.LINE_PORT_OUT: "mnp_reservation",
              a.LINE_MNP_ACTIVATE: "mnp_activation"}

#: What each built-in role may do (issue 5 §1), by hand.
EXPECTED: dict[str, set[str]] = {
    "administrator": set(a.ACTIONS) - {a.ACCOUNT_MANAGE, a.LINE_TRANSFER},
    "operations": {a.LINE_READ, a.LINE_SUSPEND, a.LINE_RESUME, a.LINE_CHANGE_OPTIONS, a.LINE_REISSUE_SIM,
                   a.LINE_MNP_ACTIVATE, a.ORDER_READ, a.ORDER_CANCEL, a.BULK_SUBMIT, a.USAGE_READ},
    "accounting": {a.BILLING_READ, a.USAGE_READ, a.PAYMENT_MANAGE, a.STATEMENT_REQUEST, a.STATEMENT_DOWNLOAD},
    "read_only": {a.LINE_READ, a.ORDER_READ, a.USAGE_READ, a.BILLING_READ, a.STATEMENT_DOWNLOAD, a.ACCOUNT_READ},
}
ROLES = sorted(EXPECTED)


def test_the_matrix_covers_the_whole_catalogue() -> None:
    assert set(API_PROBES) == set(a.ACTIONS), set(a.ACTIONS) ^ set(API_PROBES)
    assert set(WEB_PROBES) == set(a.ACTIONS), set(a.ACTIONS) ^ set(WEB_PROBES)
    assert set(CLI_PROBES) == set(a.ACTIONS), set(a.ACTIONS) ^ set(CLI_PROBES)


@dataclass
class Ctx:
    world: TenantWorld
    line_id: int
    order_id: int
    key_id: str
    statement_id: int = 0

    @property
    def line(self) -> str:
        return str(self.line_id)


# --- the API ---------------------------------------------------------------------------------------------

def _bulk(client: Any, ctx: Ctx) -> Any:
    body = f"line\r\n{ctx.world.line.msisdn}\r\n".encode()
    return client.client.post("/api/v1/bulk", {"file": SimpleUploadedFile("m.csv", body, "text/csv"),
                                                "kind": "suspend", "dry_run": "true"}, headers=client._headers())


def _preview(kind: str) -> Any:
    return lambda c, ctx: c.post(f"/api/v1/lines/{ctx.line}/orders/preview", {"kind": kind, "params": {}})


API_PROBES: dict[str, Any] = {
    a.LINE_READ: lambda c, ctx: c.get(f"/api/v1/lines/{ctx.line}"),
    a.LINE_TAG: lambda c, ctx: c.request("PUT", f"/api/v1/lines/{ctx.line}/tags", {"tags": []}),
    **{action: _preview(kind) for action, kind in LINE_KINDS.items()},
    a.ORDER_READ: lambda c, ctx: c.get("/api/v1/orders"),
    a.ORDER_CANCEL: lambda c, ctx: c.post(f"/api/v1/orders/{MISSING}/cancel"),
    a.BULK_SUBMIT: _bulk,
    a.APPROVAL_DECIDE: lambda c, ctx: c.post(f"/api/v1/approvals/{MISSING}/approve", {}),
    a.USAGE_READ: lambda c, ctx: c.get("/api/v1/usage/summary"),
    a.BILLING_READ: lambda c, ctx: c.get("/api/v1/bills"),
    a.PAYMENT_MANAGE: lambda c, ctx: c.request("PUT", "/api/v1/billing-contacts",
                                               {"billing_emails": ["matrix@example.co.jp"]}),
    a.STATEMENT_REQUEST: lambda c, ctx: c.post("/api/v1/statements", {"kind": "line_daily"}),
    a.STATEMENT_DOWNLOAD: lambda c, ctx: c.get(f"/api/v1/statements/{ctx.statement_id}/download"),
    a.USER_MANAGE: lambda c, ctx: c.get("/api/v1/users"),
    a.APIKEY_MANAGE: lambda c, ctx: c.post("/api/v1/api-keys", {"name": "matrix"}),
    a.AUDIT_READ: lambda c, ctx: c.get("/api/v1/audit"),
    a.ROLE_MANAGE: lambda c, ctx: c.get("/api/v1/roles"),
    a.ACCOUNT_READ: lambda c, ctx: c.get("/api/v1/account/contract"),
    a.ACCOUNT_MANAGE: lambda c, ctx: c.get("/api/v1/account/deletion"),
    a.LINE_TRANSFER: lambda c, ctx: c.get("/api/v1/account/transfers"),
    a.GOODS_QUOTE: lambda c, ctx: c.post("/api/v1/goods/quotes", {}),
    a.GOODS_ORDER: lambda c, ctx: c.post(f"/api/v1/goods/orders/{MISSING}/cancel"),
    a.GOODS_READ: lambda c, ctx: c.get("/api/v1/goods/orders"),
    # issue 13: webhooks and usage alerts
    a.WEBHOOK_MANAGE: lambda c, ctx: c.get("/api/v1/webhooks"),
    a.ALERT_READ: lambda c, ctx: c.get("/api/v1/alerts/rules"),
    a.ALERT_MANAGE: lambda c, ctx: c.request("DELETE", f"/api/v1/alerts/rules/{MISSING}"),
}


@pytest.fixture
def ctx(tenant_a: TenantWorld) -> Iterator[Ctx]:
    from kaisen.procedures.models import Order

    now = clock.now()
    order = Order.objects.create(tenant=tenant_a.tenant, line=tenant_a.lines[1], kind="suspend", params={},
                                 status="scheduled", idempotency_key="matrix", params_hash="matrix",
                                 effective_date=now.date(), due_at=now + dt.timedelta(days=30),
                                 cancellable_until=now + dt.timedelta(days=29))
    with time_machine.travel(TUESDAY_1030, tick=False):
        yield Ctx(world=tenant_a, line_id=tenant_a.line.pk, order_id=order.pk, key_id=tenant_a.api_key.key_id,
                  statement_id=_statement(tenant_a))


def _statement(world: TenantWorld) -> int:
    """A statement of the tenant, requested by its root user (Statement:download is checked on an object)."""
    from kaisen.statements.services import statement_request

    return int(statement_request(tenant=world.tenant, user=world.user, kind="line_daily").pk)


def _verdict_api(response: Any, action: str, allowed: bool) -> str | None:
    if response.status_code >= 500 or response.status_code == 401:
        return f"answered {response.status_code}"
    if allowed:
        return f"refused with 403 {response.content[:160]!r}" if response.status_code == 403 else None
    if response.status_code != 403:
        return f"answered {response.status_code}, expected 403"
    body = response.json()
    if body.get("code") != "PERMISSION_DENIED" or not body.get("action"):
        return f"403 without PERMISSION_DENIED and the action: {body}"
    return None


@pytest.mark.django_db
def test_matrix_through_the_api(ctx: Ctx) -> None:
    problems: list[str] = []
    cells = 0
    for role in ROLES:
        client = api(member(ctx.world, role, username=f"m_{role}"))
        for action, probe in API_PROBES.items():
            allowed = action in EXPECTED[role]
            response = probe(client, ctx)
            cells += 1
            problem = _verdict_api(response, action, allowed)
            if problem is None and not allowed and response.json()["action"] in EXPECTED[role]:
                problem = f"names {response.json()['action']}, which the role holds"
            if problem:
                problems.append(f"API {role} × {action}: {problem}")
    root = api(ctx.world.user)
    for action, probe in API_PROBES.items():
        problem = _verdict_api(probe(root, ctx), action, allowed=True)
        if problem:
            problems.append(f"API root × {action}: {problem}")
    assert cells == len(ROLES) * len(a.ACTIONS)
    assert not problems, "\n".join(problems)


# --- the web pages ---------------------------------------------------------------------------------------

def _page(name: str, **kwargs: Any) -> Any:
    return lambda c, ctx: c.get(reverse(name, kwargs={k: v(ctx) if callable(v) else v for k, v in kwargs.items()}))


WEB_PROBES: dict[str, Any] = {
    a.LINE_READ: _page("lines:list"),
    a.LINE_TAG: _page("access:line_tags", line_id=lambda ctx: ctx.line_id),
    **{action: _page(f"procedures:{kind}", line_id=lambda ctx: ctx.line_id) for action, kind in LINE_KINDS.items()},
    a.ORDER_READ: _page("procedures:order_list"),
    a.ORDER_CANCEL: _page("procedures:order_cancel", order_id=lambda ctx: ctx.order_id),
    a.BULK_SUBMIT: _page("procedures:bulk"),
    a.APPROVAL_DECIDE: lambda c, ctx: c.post(reverse("access:approval_detail", kwargs={"approval_id": MISSING}),
                                             {"decision": "approve"}),
    a.USAGE_READ: _page("usage:overview"),
    a.BILLING_READ: _page("billing:charges"),
    a.PAYMENT_MANAGE: lambda c, ctx: c.post(reverse("payments:contact_add"), {"email": "matrix@example.co.jp"}),
    a.STATEMENT_REQUEST: lambda c, ctx: c.post(reverse("statements:index"), {"kind": "line_daily"}),
    a.STATEMENT_DOWNLOAD: _page("statements:download", statement_id=lambda ctx: ctx.statement_id),
    a.USER_MANAGE: _page("accounts:users"),
    a.APIKEY_MANAGE: _page("access:api_key_permissions", key_id=lambda ctx: ctx.key_id),
    a.AUDIT_READ: _page("audit:list"),
    a.ROLE_MANAGE: _page("access:index"),
    a.ACCOUNT_READ: _page("account:contract"),
    a.ACCOUNT_MANAGE: _page("account:delete"),
    a.LINE_TRANSFER: _page("account:transfers"),
    a.GOODS_QUOTE: _page("goods:calculator"),
    a.GOODS_ORDER: _page("goods:order_new"),
    a.GOODS_READ: _page("goods:orders"),
    a.WEBHOOK_MANAGE: _page("alerts:webhooks"),
    a.ALERT_READ: _page("alerts:index"),
    a.ALERT_MANAGE: lambda c, ctx: c.post(reverse("alerts:index"), {"do": "delete", "rule_id": MISSING}),
}


@pytest.mark.django_db
def test_matrix_through_the_web(ctx: Ctx) -> None:
    problems: list[str] = []
    for role in ROLES:
        client = web(member(ctx.world, role, username=f"w_{role}"))
        for action, probe in WEB_PROBES.items():
            allowed = action in EXPECTED[role]
            status = probe(client, ctx).status_code
            if status >= 500:
                problems.append(f"web {role} × {action}: answered {status}")
            elif allowed and status == 403:
                problems.append(f"web {role} × {action}: refused with 403")
            elif not allowed and status != 403:
                problems.append(f"web {role} × {action}: answered {status}, expected 403")
    root = web(ctx.world.user)
    for action, probe in WEB_PROBES.items():
        status = probe(root, ctx).status_code
        if status == 403 or status >= 500:
            problems.append(f"web root × {action}: answered {status}")
    assert not problems, "\n".join(problems)


# --- the CLI ---------------------------------------------------------------------------------------------

CLI_PROBES: dict[str, Any] = {
    a.LINE_READ: lambda ctx: ["lines", "get", ctx.line, "--id"],
    a.LINE_TAG: lambda ctx: ["roles", "tags", "line", ctx.line, "--clear"],
    **{action: (lambda ctx, kind=kind: ["orders", "create", ctx.line, "--id", "--kind", kind, "--preview"])
       for action, kind in LINE_KINDS.items()},
    a.ORDER_READ: lambda ctx: ["orders", "list"],
    a.ORDER_CANCEL: lambda ctx: ["orders", "cancel", str(MISSING)],
    a.BULK_SUBMIT: lambda ctx: ["bulk", "upload", str(ctx.bulk_file), "--kind", "suspend", "--dry-run"],
    a.APPROVAL_DECIDE: lambda ctx: ["roles", "approvals", "approve", str(MISSING)],
    a.USAGE_READ: lambda ctx: ["usage", "summary"],
    a.BILLING_READ: lambda ctx: ["bills", "list"],
    a.PAYMENT_MANAGE: lambda ctx: ["payments", "contacts", "--add", "matrix@example.co.jp"],
    a.STATEMENT_REQUEST: lambda ctx: ["statements", "request", "line_daily"],
    a.STATEMENT_DOWNLOAD: lambda ctx: ["statements", "download", str(ctx.statement_id), "--out", str(ctx.out)],
    a.USER_MANAGE: lambda ctx: ["users", "list"],
    a.APIKEY_MANAGE: lambda ctx: ["apikeys", "create", "matrix"],
    a.AUDIT_READ: lambda ctx: ["audit", "list"],
    a.ROLE_MANAGE: lambda ctx: ["roles", "list"],
    a.ACCOUNT_READ: lambda ctx: ["account", "contract"],
    a.ACCOUNT_MANAGE: lambda ctx: ["account", "deletion-check"],
    a.LINE_TRANSFER: lambda ctx: ["account", "transfer", "list"],
    a.GOODS_QUOTE: lambda ctx: ["goods", "quotes"],
    a.GOODS_ORDER: lambda ctx: ["goods", "cancel", str(MISSING)],
    a.GOODS_READ: lambda ctx: ["goods", "orders"],
    a.WEBHOOK_MANAGE: lambda ctx: ["webhooks", "list"],
    a.ALERT_READ: lambda ctx: ["alerts", "rules"],
    a.ALERT_MANAGE: lambda ctx: ["alerts", "delete", str(MISSING)],
}


@pytest.fixture
def cli_env(live_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("KAISEN_TOKEN", raising=False)
    return {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg")}


@pytest.mark.django_db(transaction=True)
def test_matrix_through_the_cli(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The CLI calls the API of a live server with each role's token: a denied action exits 1 and prints
    ``{"status": 403, "code": "PERMISSION_DENIED", "action": ...}``."""
    from typer.testing import CliRunner

    from kaisen.accounts.services import _issue
    from kaisen.cli import app

    runner = CliRunner()
    world = make_world()
    bulk_file = tmp_path / "bulk.csv"
    bulk_file.write_text(f"line\r\n{world.line.msisdn}\r\n", encoding="utf-8")
    ctx = Ctx(world=world, line_id=world.line.pk, order_id=0, key_id=world.api_key.key_id,
              statement_id=_statement(world))
    ctx.bulk_file = bulk_file  # type: ignore[attr-defined]
    ctx.out = tmp_path / "out.csv"  # type: ignore[attr-defined]
    problems: list[str] = []
    cells = 0
    with time_machine.travel(TUESDAY_1030, tick=True):
        subjects = [(role, _issue(member(world, role, username=f"c_{role}"), None).token) for role in ROLES]
        subjects.append(("root", _issue(world.user, None).token))
        for role, token in subjects:
            env = {**cli_env, "KAISEN_TOKEN": token}
            for action, probe in CLI_PROBES.items():
                allowed = role == "root" or action in EXPECTED[role]
                result = runner.invoke(app, probe(ctx), env=env)
                cells += 1
                error = _cli_error(result)
                denied = error is not None and error.get("code") == "PERMISSION_DENIED"
                if result.exception is not None and not isinstance(result.exception, SystemExit):
                    problems.append(f"CLI {role} × {action}: {result.exception!r}")
                elif error is not None and (error.get("status", 0) >= 500 or error.get("status") == 401):
                    problems.append(f"CLI {role} × {action}: {error}")
                elif allowed and denied:
                    problems.append(f"CLI {role} × {action}: refused {error}")
                elif not allowed and not (denied and result.exit_code == 1 and error and error.get("action")):
                    problems.append(f"CLI {role} × {action}: exit {result.exit_code}, {error or result.output[:120]}")
    assert cells == (len(ROLES) + 1) * len(a.ACTIONS)
    assert not problems, "\n".join(problems)


def _cli_error(result: Any) -> dict[str, Any] | None:
    """The ``{status, code, message, action}`` the CLI prints on stderr for an error answer."""
    text = getattr(result, "stderr", "") or ""
    if not text:
        try:
            text = result.output
        except ValueError:
            text = ""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if "code" in data:
                return dict(data)
    return None
