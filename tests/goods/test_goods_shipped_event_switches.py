"""The "SIM shipped" event (issue 13 §1, written with the shipment) and the switches of the quote
calculator (issue 15 §4): the operator-wide public calculator switch without a restart, and the per-tenant
switch of the portal calculator."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from kaisen.api import api as ninja_api
from kaisen.controls import functions as fn
from kaisen.controls import services as controls
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events import catalogue as events
from kaisen.events.models import Event
from kaisen.goods import services
from kaisen.goods.models import Quote
from tests.access.helpers import api, web
from tests.conftest import TenantWorld
from tests.factories import make_iccid
from tests.goods.conftest import ADDRESS, SIM, card

pytestmark = pytest.mark.usefixtures("catalogue")


def test_shipment_writes_one_sim_shipped_event_for_its_tenant(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    card(tenant_a.user)
    order, _r = services.order_create(user=tenant_a.user, idempotency_key="k", products=[{"code": SIM, "quantity": 2}],
                                      **ADDRESS)
    services.order_settle(order_id=order.pk)
    assert not Event.objects.filter(type=events.SIM_SHIPPED).exists()
    with pytest.raises(DomainError):  # a refused shipment writes no event
        services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="1",
                            iccids=[make_iccid(930_001)])
    assert not Event.objects.filter(type=events.SIM_SHIPPED).exists()
    iccids = [make_iccid(930_001), make_iccid(930_002)]
    services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="1234-5678", iccids=iccids)
    event = Event.objects.get(type=events.SIM_SHIPPED)
    assert event.tenant_id == tenant_a.tenant.pk and event.version == 1
    data = events.SimShippedData.model_validate(event.data)
    assert data.goods_order_id == order.pk and data.tracking_number == "1234-5678"
    assert [s.iccid for s in data.sims] == iccids and all(s.product_code == SIM for s in data.sims)
    assert not Event.objects.filter(tenant=tenant_b.tenant, type=events.SIM_SHIPPED).exists()
    # the event list of the API: the owner sees it, the other tenant does not
    assert events.SIM_SHIPPED in events.SUBSCRIBABLE


def test_sim_shipped_schema_is_in_the_openapi_document() -> None:
    doc = ninja_api.get_openapi_schema(path_prefix="/api/v1")
    assert "SimShippedData" in doc["components"]["schemas"]
    assert "Event_sim_shipped_v1" in doc["components"]["schemas"]
    assert events.SIM_SHIPPED in doc["webhooks"]


def test_public_calculator_switch_is_flipped_by_staff_without_a_restart() -> None:
    client = Client()
    assert client.get("/quote/").status_code == 200
    controls.operator_switch_set(function=fn.PUBLIC_QUOTE_CALCULATOR, enabled=False, actor="staff-test")
    assert client.get("/quote/").status_code == 404
    assert client.get("/api/v1/goods/public/catalogue").status_code == 404
    r = client.post("/api/v1/goods/public/quotes", {"products": [{"code": SIM, "quantity": 1}]},
                    content_type="application/json")
    assert r.status_code == 404 and not Quote.objects.exists()
    controls.operator_switch_set(function=fn.PUBLIC_QUOTE_CALCULATOR, enabled=True, actor="staff-test")
    assert client.get("/quote/").status_code == 200
    with pytest.raises(DomainError) as err:
        controls.operator_switch_set(function="nope", enabled=True)
    assert err.value.code == ErrorCode.UNKNOWN_FUNCTION


def test_the_environment_is_the_default_until_staff_choose() -> None:
    with override_settings(KAISEN_PUBLIC_QUOTE_CALCULATOR=False):
        assert not services.public_calculator_enabled()
        controls.operator_switch_set(function=fn.PUBLIC_QUOTE_CALCULATOR, enabled=True, actor="staff-test")
        assert services.public_calculator_enabled()  # the stored choice wins over the default
        row = {s["function"]: s for s in controls.operator_switches()}[fn.PUBLIC_QUOTE_CALCULATOR]
        assert row["enabled"] is True and row["default"] is False


def test_portal_calculator_follows_the_tenant_switch(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    controls.switch_set(tenant=tenant_a.tenant, function=fn.SWITCH_QUOTE_CALCULATOR, enabled=False,
                        actor="staff-test")
    with pytest.raises(DomainError) as err:
        services.quote_save(user=tenant_a.user, products=[{"code": SIM, "quantity": 1}])
    assert err.value.code == ErrorCode.NOT_IN_CONTRACT
    page = web(tenant_a.user).get("/goods/calculator/")
    assert page.status_code == 200 and 'id="not-in-contract"' in page.content.decode()
    assert 'data-testid="calculator-form"' not in page.content.decode()
    r = api(tenant_a.user).post("/api/v1/goods/quotes", {"products": [{"code": SIM, "quantity": 1}]})
    assert r.status_code == 403 and r.json()["code"] == "NOT_IN_CONTRACT"
    assert not Quote.objects.exists()
    # the other tenant still has it
    assert 'data-testid="calculator-form"' in web(tenant_b.user).get("/goods/calculator/").content.decode()
    assert services.quote_save(user=tenant_b.user, products=[{"code": SIM, "quantity": 1}]).tenant == tenant_b.tenant


def test_staff_cli_flips_the_public_calculator() -> None:
    import json

    from typer.testing import CliRunner

    from kaisen.audit.models import AuditEvent
    from kaisen.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "operator-switch", "public_quote_calculator",
                              "off"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"function": "public_quote_calculator", "enabled": False}
    assert Client().get("/quote/").status_code == 404
    assert AuditEvent.objects.filter(action="controls.operator_switch.set").count() == 1
    listed = runner.invoke(app, ["--format", "json", "admin", "controls", "operator-switches"], catch_exceptions=False)
    assert json.loads(listed.stdout)[0]["enabled"] is False
    bad = runner.invoke(app, ["admin", "controls", "operator-switch", "nope", "on"], catch_exceptions=False)
    assert bad.exit_code == 1 and "UNKNOWN_FUNCTION" in bad.output
    assert runner.invoke(app, ["admin", "controls", "operator-switch", "public_quote_calculator",
                               "maybe"]).exit_code == 2


def test_back_office_flips_the_public_calculator() -> None:
    from kaisen.accounts.services import user_create

    user = user_create(tenant=None, username="ops_goods", password="Staff-password-2026", is_staff=True,
                       is_superuser=True)
    staff = Client(HTTP_ACCEPT_LANGUAGE="ja")
    staff.force_login(user)
    assert staff.get("/admin/controls/operatorswitch/").status_code == 200
    resp = staff.post("/admin/controls/operatorswitch/add/", {"function": fn.PUBLIC_QUOTE_CALCULATOR,
                                                              "note": "closed for the holidays"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    assert not services.public_calculator_enabled()
    assert Client().get("/quote/").status_code == 404
