"""``kaisen goods`` and ``kaisen admin goods`` (issue 12 §4, §6): the operator's fulfilment run and the
customer's quote and order over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kaisen.cli import app
from kaisen.goods.models import GoodsOrder, OrderStatus
from kaisen.goods.setup import catalogue_ensure
from kaisen.lines.models import Line, LineStatus
from tests.conftest import make_world
from tests.factories import PASSWORD, make_iccid
from tests.goods.conftest import ADDRESS, SIM, card

runner = CliRunner()


def _run(args: list[str], env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, args, env=env or {}, catch_exceptions=False)


@pytest.mark.usefixtures("catalogue")
def test_operator_due_settle_ship_deliver(tenant_a: Any, tmp_path: Path) -> None:
    from kaisen.goods import services

    card(tenant_a.user, number="4000000000000002")  # declined
    order, _r = services.order_create(user=tenant_a.user, idempotency_key="k",
                                      products=[{"code": SIM, "quantity": 1}], **ADDRESS)
    due = json.loads(_run(["--format", "json", "admin", "goods", "due"]).stdout)
    assert [d["number"] for d in due] == [order.number]
    res = _run(["admin", "goods", "settle"])
    assert res.exit_code == 0 and json.loads(res.stdout) == {"settled": 0, "held": 1, "skipped": 0}
    card(tenant_a.user)
    res = _run(["admin", "goods", "settle", order.number])
    assert res.exit_code == 0 and json.loads(res.stdout)["status"] == "awaiting_shipment"
    res = _run(["admin", "goods", "ship", order.number, "--tracking", "1111-2222", "--iccid", "8981"])
    assert res.exit_code == 1 and "INVALID_ICCID" in res.stderr
    iccid = make_iccid(700_001)
    res = _run(["admin", "goods", "ship", order.number, "--tracking", "1111-2222", "--iccid", iccid])
    assert res.exit_code == 0, res.output
    assert Line.objects.get(iccid=iccid).status == LineStatus.NOT_ACTIVATED
    note = tmp_path / "note.pdf"
    res = _run(["admin", "goods", "delivery-note", order.number, "--out", str(note)])
    assert res.exit_code == 0 and note.read_bytes().startswith(b"%PDF")
    assert _run(["admin", "goods", "deliver", order.number]).exit_code == 0
    assert GoodsOrder.objects.get(pk=order.pk).status == OrderStatus.DELIVERED
    assert _run(["admin", "goods", "deliver", order.number]).exit_code == 1


@pytest.mark.django_db(transaction=True)
def test_customer_quotes_and_orders_over_http(live_server: Any, tmp_path: Path) -> None:
    from tests.factories import PlanFactory

    PlanFactory(code="DOCOMO-3G", carrier="docomo")
    catalogue_ensure()
    world = make_world(n_lines=1)
    card(world.user)
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": "",
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    assert _run(["login", "--operator-id", world.tenant.public_id, "--username", world.user.username,
                 "--password", PASSWORD], env).exit_code == 0
    res = _run(["goods", "quote", "--item", f"{SIM}=2", "--running", "RUN-OPT-VOICEMAIL=2"], env)
    assert res.exit_code == 0, res.output
    quote = json.loads(res.stdout)
    assert quote["number"].startswith("Q")
    res = _run(["goods", "order", "--quote", str(quote["id"]), "--recipient", "山田", "--postal-code", "100-0001",
                "--address", "東京都千代田区1-1", "--key", "cli-1"], env)
    assert res.exit_code == 0, res.output
    order = json.loads(res.stdout)
    assert order["status"] == "received" and order["quote_id"] == quote["id"]
    assert _run(["goods", "cancel", str(order["id"])], env).exit_code == 0
    assert GoodsOrder.objects.get(pk=order["id"]).status == OrderStatus.CANCELLED
    res = _run(["goods", "order", "--item", "NOPE=1", "--recipient", "x", "--postal-code", "100-0001",
                "--address", "y"], env)
    assert res.exit_code == 1
