"""Cancelling a card order after the charge: a full refund through the provider interface (issue 12 §3:
"an order can be cancelled before shipment"), and the simulator's refund (idempotent, by the charge, at most
what was charged, may refuse)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kaisen.audit.models import AuditEvent
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.goods import services
from kaisen.goods.models import GoodsOrder, GoodsOrderEvent, OrderStatus
from kaisen.notifications.models import OutboxMessage
from kaisen.payments.models import SimulatedCharge, SimulatedRefund
from kaisen.payments.provider import SimulatorProvider
from tests.access.helpers import api, web
from tests.conftest import TenantWorld
from tests.factories import make_iccid
from tests.goods.conftest import ADDRESS, SIM, card

pytestmark = pytest.mark.usefixtures("catalogue")

REFUND_FAILS = "4000000000005126"  # the simulator: charges succeed, refunds are refused


def _charged(world: TenantWorld, key: str = "k-1", number: str = "4242424242424242") -> GoodsOrder:
    card(world.user, number=number)
    order, _r = services.order_create(user=world.user, idempotency_key=key, products=[{"code": SIM, "quantity": 2}],
                                      **ADDRESS)
    services.order_settle(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT and order.charge_id
    return order


def test_simulator_refund_is_idempotent_bounded_and_may_refuse(db: None) -> None:
    provider = SimulatorProvider()
    today = clock.today_jst()
    token = provider.tokenize_card(number="4242424242424242", exp_month=12, exp_year=2035, cvc="123",
                                   today=today).token
    charge = provider.charge(token=token, amount=Decimal(1000), currency="JPY", idempotency_key="c1", today=today)
    too_much = provider.refund(charge_id=charge.charge_id, amount=Decimal(1001), currency="JPY",
                               idempotency_key="r0", today=today)
    assert not too_much.succeeded and too_much.failure_code == "amount_exceeds_charge"
    part = provider.refund(charge_id=charge.charge_id, amount=Decimal(400), currency="JPY", idempotency_key="r1",
                           today=today)
    again = provider.refund(charge_id=charge.charge_id, amount=Decimal(400), currency="JPY", idempotency_key="r1",
                            today=today)
    assert part.succeeded and again.replayed and again.refund_id == part.refund_id
    rest = provider.refund(charge_id=charge.charge_id, amount=Decimal(601), currency="JPY", idempotency_key="r2",
                           today=today)
    assert rest.failure_code == "amount_exceeds_charge"  # 400 of 1000 already refunded
    assert provider.refund(charge_id="ch_sim_unknown", amount=Decimal(1), currency="JPY", idempotency_key="r3",
                           today=today).failure_code == "charge_not_found"
    assert provider.refund(charge_id=charge.charge_id, amount=Decimal(1), currency="USD", idempotency_key="r4",
                           today=today).failure_code == "currency_mismatch"
    assert SimulatedRefund.objects.filter(status="succeeded").count() == 1
    refuser = provider.tokenize_card(number=REFUND_FAILS, exp_month=12, exp_year=2035, cvc="123", today=today).token
    ok = provider.charge(token=refuser, amount=Decimal(50), currency="JPY", idempotency_key="c2", today=today)
    assert ok.succeeded
    refused = provider.refund(charge_id=ok.charge_id, amount=Decimal(50), currency="JPY", idempotency_key="r5",
                              today=today)
    assert not refused.succeeded and refused.failure_code == "refund_declined"


def test_cancel_after_the_charge_refunds_in_full(tenant_a: TenantWorld) -> None:
    order = _charged(tenant_a)
    done = services.order_cancel(user=tenant_a.user, order_id=order.pk)
    assert done.status == OrderStatus.CANCELLED
    assert done.refunded_amount == order.total and done.refunded_on == clock.today_jst() and done.refund_id
    refund = SimulatedRefund.objects.get(refund_id=done.refund_id)
    assert refund.status == "succeeded" and refund.amount == order.total and refund.charge_id == order.charge_id
    assert refund.idempotency_key == services.refund_key_for(order)
    actions = list(AuditEvent.objects.filter(tenant=tenant_a.tenant, action__startswith="goods.order.")
                   .values_list("action", "success"))
    assert ("goods.order.refund", True) in actions and ("goods.order.cancel", True) in actions
    mail = OutboxMessage.objects.get(topic=f"goods.cancelled.{order.pk}")
    assert "返金" in mail.body and "refunded in full" in mail.body
    assert GoodsOrderEvent.objects.filter(order=order, to_status=OrderStatus.CANCELLED).count() == 1


def test_refused_refund_leaves_the_order_as_it_was(tenant_a: TenantWorld) -> None:
    order = _charged(tenant_a, number=REFUND_FAILS)
    events_before = GoodsOrderEvent.objects.filter(order=order).count()
    with pytest.raises(DomainError) as err:
        services.order_cancel(user=tenant_a.user, order_id=order.pk)
    assert err.value.code == ErrorCode.REFUND_FAILED and err.value.http_status == 409
    assert err.value.details["failure_code"] == "refund_declined"
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT and not order.refund_id and order.refunded_amount is None
    assert GoodsOrderEvent.objects.filter(order=order).count() == events_before
    assert not OutboxMessage.objects.filter(topic=f"goods.cancelled.{order.pk}").exists()
    assert not SimulatedRefund.objects.filter(status="succeeded").exists()
    refusal = AuditEvent.objects.get(tenant=tenant_a.tenant, action="goods.order.refund")
    assert refusal.success is False
    assert not AuditEvent.objects.filter(action="goods.order.cancel").exists()
    # still shippable
    services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="1",
                        iccids=[make_iccid(910_001), make_iccid(910_002)])


def test_repeated_cancel_refunds_once(tenant_a: TenantWorld) -> None:
    order = _charged(tenant_a)
    services.order_cancel(user=tenant_a.user, order_id=order.pk)
    with pytest.raises(DomainError) as err:
        services.order_cancel(user=tenant_a.user, order_id=order.pk)
    assert err.value.code == ErrorCode.ORDER_NOT_CANCELLABLE
    # a lost answer retried with the same key gets the same refund, never a second one
    order.refresh_from_db()
    replay = SimulatorProvider().refund(charge_id=order.charge_id, amount=order.total, currency=order.currency,
                                        idempotency_key=services.refund_key_for(order), today=clock.today_jst())
    assert replay.replayed and replay.refund_id == order.refund_id
    assert SimulatedRefund.objects.filter(charge_id=order.charge_id, status="succeeded").count() == 1


def test_another_tenant_cannot_cancel_or_refund(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    order = _charged(tenant_a)
    with pytest.raises(DomainError) as err:
        services.order_cancel(user=tenant_b.user, order_id=order.pk)
    assert err.value.code == ErrorCode.NOT_FOUND
    assert api(tenant_b.user).post(f"/api/v1/goods/orders/{order.pk}/cancel").status_code == 404
    assert web(tenant_b.user).post(f"/goods/orders/{order.pk}/cancel/").status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT and not SimulatedRefund.objects.exists()


def test_after_shipment_cancel_is_still_refused(tenant_a: TenantWorld) -> None:
    order = _charged(tenant_a)
    services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="1",
                        iccids=[make_iccid(920_001), make_iccid(920_002)])
    with pytest.raises(DomainError) as err:
        services.order_cancel(user=tenant_a.user, order_id=order.pk)
    assert err.value.code == ErrorCode.ORDER_NOT_CANCELLABLE
    assert not SimulatedRefund.objects.exists()
    assert SimulatedCharge.objects.filter(charge_id=order.charge_id, status="succeeded").exists()


def test_cancel_with_refund_on_the_web_and_api(tenant_a: TenantWorld) -> None:
    order = _charged(tenant_a)
    client = web(tenant_a.user)
    page = client.get(f"/goods/orders/{order.pk}/").content.decode()
    assert 'data-testid="refund-hint"' in page and 'data-testid="cancel-order"' in page
    assert client.post(f"/goods/orders/{order.pk}/cancel/").status_code == 302
    page = client.get(f"/goods/orders/{order.pk}/").content.decode()
    assert 'data-testid="refund"' in page
    other = _charged(tenant_a, key="k-2", number=REFUND_FAILS)
    r = api(tenant_a.user).post(f"/api/v1/goods/orders/{other.pk}/cancel")
    assert r.status_code == 409 and r.json()["code"] == "REFUND_FAILED"
    card(tenant_a.user)
    third, _r = services.order_create(user=tenant_a.user, idempotency_key="k-3",
                                      products=[{"code": SIM, "quantity": 1}], **ADDRESS)
    services.order_settle(order_id=third.pk)
    r = api(tenant_a.user).post(f"/api/v1/goods/orders/{third.pk}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert Decimal(r.json()["refunded_amount"]) == third.total


def test_cancel_with_refund_from_the_cli(live_server: Any, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from kaisen.cli import app
    from tests.conftest import make_world
    from tests.factories import PASSWORD

    world = make_world(n_lines=1)
    charged = _charged(world)
    refusing = _charged(world, key="k-2", number=REFUND_FAILS)
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": "",
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    runner = CliRunner()
    assert runner.invoke(app, ["login", "--operator-id", world.tenant.public_id, "--username", world.user.username,
                               "--password", PASSWORD], env=env, catch_exceptions=False).exit_code == 0
    res = runner.invoke(app, ["goods", "cancel", str(charged.pk)], env=env, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["status"] == "cancelled" and Decimal(out["refunded_amount"]) == charged.total
    res = runner.invoke(app, ["goods", "cancel", str(refusing.pk)], env=env, catch_exceptions=False)
    assert res.exit_code != 0 and "REFUND_FAILED" in res.output
    refusing.refresh_from_db()
    assert refusing.status == OrderStatus.AWAITING_SHIPMENT
