"""Orders of SIMs and devices, fulfilment and billing (issue 12 §3-§5; S-ORD-2, S-BILL-1, S-ACC-4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings

from kaisen.account.selectors import transfer_candidates
from kaisen.audit.models import AuditEvent
from kaisen.billing.rating import rate_month
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.goods import services
from kaisen.goods.models import CatalogueItem, GoodsOrder, OrderStatus, StockState
from kaisen.goods.pdf import delivery_note_pdf, quote_pdf
from kaisen.lines.models import Line, LinePeriod, LineStatus
from kaisen.notifications.models import OutboxMessage
from tests.charges.test_invoice_pdf import pdf_text
from tests.conftest import TenantWorld
from tests.factories import make_iccid
from tests.goods.conftest import ADDRESS, SIM, card, invoice_method

pytestmark = pytest.mark.usefixtures("catalogue")


def _order(world: TenantWorld, key: str = "k-1", qty: int = 2, **kw: object) -> GoodsOrder:
    order, _replayed = services.order_create(user=world.user, idempotency_key=key,
                                             products=[{"code": SIM, "quantity": qty}], **ADDRESS, **kw)
    return order


def _topics(tenant: object) -> list[str]:
    return [t.rsplit(".", 1)[0] if t.count(".") >= 2 else t
            for t in OutboxMessage.objects.filter(tenant=tenant).values_list("topic", flat=True)]


def test_an_order_is_refused_without_a_payment_method(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as err:
        _order(tenant_a)
    assert err.value.code == ErrorCode.NO_PAYMENT_METHOD
    assert not GoodsOrder.objects.exists()


def test_expired_card_counts_as_no_payment_method(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    from kaisen.payments.models import PaymentSetting

    PaymentSetting.objects.filter(tenant=tenant_a.tenant).update(card_exp_year=clock.today_jst().year - 1)
    with pytest.raises(DomainError) as err:
        _order(tenant_a)
    assert err.value.code == ErrorCode.NO_PAYMENT_METHOD


def test_order_received_with_totals_mail_and_audit(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    order = _order(tenant_a)
    assert order.status == OrderStatus.RECEIVED and order.payment_method == "card"
    # 2 × 1,650 + parcel 1,100 = 4,400 + 440 tax
    assert (order.subtotal, order.tax_total, order.total) == (Decimal(4400), Decimal(440), Decimal(4840))
    assert [i.code for i in order.items.all()] == [SIM, "SHIP-60"]
    assert "goods.received" in _topics(tenant_a.tenant)
    assert AuditEvent.objects.filter(action="goods.order.create", tenant=tenant_a.tenant).count() == 1


def test_idempotency_key_replays_and_refuses_another_request(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    first = _order(tenant_a, key="same")
    again, replayed = services.order_create(user=tenant_a.user, idempotency_key="same",
                                            products=[{"code": SIM, "quantity": 2}], **ADDRESS)
    assert replayed and again.pk == first.pk
    with pytest.raises(DomainError) as err:
        _order(tenant_a, key="same", qty=3)
    assert err.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert GoodsOrder.objects.count() == 1


def test_advance_order_needs_a_date_14_days_ahead(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    today = clock.today_jst()
    with pytest.raises(DomainError) as err:
        _order(tenant_a, key="a", desired_delivery_on=today + dt.timedelta(days=13))
    assert err.value.code == ErrorCode.INVALID_DATE
    order = _order(tenant_a, key="b", desired_delivery_on=today + dt.timedelta(days=14))
    assert order.desired_delivery_on == today + dt.timedelta(days=14)
    # not due until 3 days before the wanted date
    assert order not in services.due_orders()
    assert order in services.due_orders(today=today + dt.timedelta(days=11))


def test_out_of_stock_item_cannot_be_ordered(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    CatalogueItem.objects.filter(code=SIM).update(stock_state=StockState.OUT)
    with pytest.raises(DomainError) as err:
        _order(tenant_a)
    assert err.value.code == ErrorCode.ITEM_NOT_AVAILABLE


@pytest.mark.parametrize("field,value", [("postal_code", "1234"), ("recipient", ""), ("address", "x" * 201)])
def test_bad_address_is_refused(tenant_a: TenantWorld, field: str, value: str) -> None:
    card(tenant_a.user)
    with pytest.raises(DomainError) as err:
        services.order_create(user=tenant_a.user, idempotency_key="k", products=[{"code": SIM, "quantity": 1}],
                              **{**ADDRESS, field: value})
    assert err.value.field == field
    assert not GoodsOrder.objects.exists()


def test_card_charged_just_before_shipment_then_shipped_sims_become_ready_lines(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    order = _order(tenant_a)
    assert services.settle_due() == {"settled": 1, "held": 0, "skipped": 0}
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT and order.charge_id and order.settled_on == clock.today_jst()
    iccids = [make_iccid(900_001), make_iccid(900_002)]
    with pytest.raises(DomainError) as err:  # one ICCID for two SIMs
        services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="1234-5678-9012",
                            iccids=iccids[:1])
    assert err.value.field == "iccids"
    services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="1234-5678-9012",
                        iccids=" ".join(iccids))
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.tracking_number == "1234-5678-9012"
    lines = Line.objects.filter(tenant=tenant_a.tenant, iccid__in=iccids)
    assert lines.count() == 2
    assert {ln.status for ln in lines} == {LineStatus.NOT_ACTIVATED}
    assert {ln.sim_size for ln in lines} == {"nano"} and {ln.product_code for ln in lines} == {SIM}
    assert LinePeriod.objects.filter(line__in=lines).count() == 2
    # never used: SIM transfer offers them (S-ACC-4)
    assert set(iccids) <= {ln.iccid for ln in transfer_candidates(user=tenant_a.user)}
    assert "goods.shipped" in _topics(tenant_a.tenant)
    pdf = delivery_note_pdf(order=order)
    assert pdf.startswith(b"%PDF")
    services.order_deliver(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    with pytest.raises(DomainError) as err:
        services.order_cancel(user=tenant_a.user, order_id=order.pk)
    assert err.value.code == ErrorCode.ORDER_NOT_CANCELLABLE


def test_shipping_refuses_iccids_already_registered(tenant_a: TenantWorld) -> None:
    invoice_method(tenant_a.tenant)
    order = _order(tenant_a, qty=1)
    services.order_settle(order_id=order.pk)
    with pytest.raises(DomainError) as err:
        services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="1",
                            iccids=[tenant_a.line.iccid])
    assert err.value.code == ErrorCode.DUPLICATE
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT


def test_failed_charge_holds_the_order_mails_and_retry_after_card_update(tenant_a: TenantWorld) -> None:
    card(tenant_a.user, number="4000000000000002")  # declined by the simulator
    order = _order(tenant_a)
    services.order_settle(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_FAILED and order.failure_code == "card_declined"
    assert "goods.payment_failed" in _topics(tenant_a.tenant)
    with pytest.raises(DomainError):
        services.order_ship(order_id=order.pk, carrier_name="x", tracking_number="1", iccids=[])
    card(tenant_a.user)
    services.order_retry_payment(user=tenant_a.user, order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT


def test_cancel_before_shipment(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    order = _order(tenant_a)
    services.order_cancel(user=tenant_a.user, order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert "goods.cancelled" in _topics(tenant_a.tenant)
    with pytest.raises(DomainError):
        services.order_settle(order_id=order.pk)
    # a card already charged is refunded in full, then cancelled (tests/goods/test_goods_refund.py)
    paid = _order(tenant_a, key="k-2")
    services.order_settle(order_id=paid.pk)
    services.order_cancel(user=tenant_a.user, order_id=paid.pk)
    paid.refresh_from_db()
    assert paid.status == OrderStatus.CANCELLED and paid.refunded_amount == paid.total


def test_invoice_orders_go_on_the_month_invoice_with_tax_card_orders_do_not(tenant_a: TenantWorld) -> None:
    invoice_method(tenant_a.tenant)
    by_invoice = _order(tenant_a, key="inv", qty=3)
    services.order_settle(order_id=by_invoice.pk)
    month = clock.today_jst().replace(day=1)
    result = rate_month(tenant=tenant_a.tenant, coverage="japan", month=month)
    goods = result.invoice.items.filter(cost_type="goods")
    assert sorted(i.amount for i in goods) == [Decimal(1100), Decimal(4950)]
    assert all(by_invoice.number in i.label for i in goods)
    assert result.invoice.tax_total >= Decimal(605)  # the goods' 10 % is in the invoice's tax
    # a cancelled order leaves the invoice at the next rating
    services.order_cancel(user=tenant_a.user, order_id=by_invoice.pk)
    again = rate_month(tenant=tenant_a.tenant, coverage="japan", month=month)
    assert not again.invoice.items.filter(cost_type="goods").exists()


def test_quote_becomes_an_order_at_the_quote_prices(tenant_a: TenantWorld) -> None:
    invoice_method(tenant_a.tenant)
    quote = services.quote_save(user=tenant_a.user, products=[{"code": SIM, "quantity": 5}],
                                running=[{"code": "RUN-OPT-VOICEMAIL", "quantity": 5}])
    assert quote.number.startswith("Q") and quote.valid_until == clock.today_jst() + dt.timedelta(days=30)
    assert quote_pdf(quote=quote).startswith(b"%PDF")
    order, _r = services.order_create(user=tenant_a.user, idempotency_key="q", quote_id=quote.pk, **ADDRESS)
    assert order.quote_id == quote.pk and order.items.get(code=SIM).quantity == 5


def test_quote_pdf_text(tenant_a: TenantWorld, tmp_path: Path) -> None:
    quote = services.quote_save(user=tenant_a.user, products=[{"code": SIM, "quantity": 2}],
                                addressee="見積先株式会社")
    text = pdf_text(quote_pdf(quote=quote), tmp_path)
    assert "御見積書" in text and quote.number in text and "見積先株式会社" in text and "¥4,840" in text


def test_quote_email_up_to_five_addresses(tenant_a: TenantWorld) -> None:
    quote = services.quote_save(user=tenant_a.user, products=[{"code": SIM, "quantity": 1}])
    to = services.quote_email(user=tenant_a.user, quote_id=quote.pk, emails="a@example.jp, b@example.jp")
    assert to == ["a@example.jp", "b@example.jp"]
    message = OutboxMessage.objects.get(topic="goods.quote")
    assert quote.number in message.subject and message.to == to
    with pytest.raises(DomainError):
        services.quote_email(user=tenant_a.user, quote_id=quote.pk, emails=[f"u{i}@example.jp" for i in range(6)])
    with pytest.raises(DomainError):
        services.quote_email(user=tenant_a.user, quote_id=quote.pk, emails="not-an-address")


def test_public_quotes_can_be_switched_off(db: None) -> None:
    quote = services.quote_save(products=[{"code": SIM, "quantity": 1}])
    assert quote.tenant is None and services.quote_by_token(token=quote.token).pk == quote.pk
    with override_settings(KAISEN_PUBLIC_QUOTE_CALCULATOR=False):
        with pytest.raises(DomainError) as err:
            services.quote_save(products=[{"code": SIM, "quantity": 1}])
        assert err.value.code == ErrorCode.NOT_FOUND


def test_another_tenant_cannot_see_or_touch_orders_and_quotes(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    card(tenant_a.user)
    order = _order(tenant_a)
    quote = services.quote_save(user=tenant_a.user, products=[{"code": SIM, "quantity": 1}])
    for call in (lambda: services.order_get(user=tenant_b.user, order_id=order.pk),
                 lambda: services.order_cancel(user=tenant_b.user, order_id=order.pk),
                 lambda: services.order_retry_payment(user=tenant_b.user, order_id=order.pk),
                 lambda: services.quote_get(user=tenant_b.user, quote_id=quote.pk),
                 lambda: services.quote_email(user=tenant_b.user, quote_id=quote.pk, emails="x@example.jp")):
        with pytest.raises(DomainError) as err:
            call()
        assert err.value.code == ErrorCode.NOT_FOUND
    card(tenant_b.user)
    with pytest.raises(DomainError) as err:  # nor order from another tenant's quote
        services.order_create(user=tenant_b.user, idempotency_key="x", quote_id=quote.pk, **ADDRESS)
    assert err.value.code == ErrorCode.NOT_FOUND
    assert list(services.order_list(user=tenant_b.user)) == []
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED


def test_every_fulfilment_step_is_audited(tenant_a: TenantWorld) -> None:
    invoice_method(tenant_a.tenant)
    order = _order(tenant_a, qty=1)
    services.order_settle(order_id=order.pk)
    services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="9-9",
                        iccids=[make_iccid(950_001)])
    services.order_deliver(order_id=order.pk)
    actions = list(AuditEvent.objects.filter(tenant=tenant_a.tenant, target_type="goods.goodsorder",
                                             target_id=str(order.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["goods.order.create", "goods.order.settle", "goods.order.ship", "goods.order.deliver"]


def test_payment_statement_lists_purchases_usage_and_the_payer(tenant_a: TenantWorld, tmp_path: Path) -> None:
    card(tenant_a.user)
    order = _order(tenant_a, qty=2)
    services.order_settle(order_id=order.pk)
    services.payer_set(user=tenant_a.user, company="見本商事株式会社", department="総務部", name="経理 花子")
    data, name = services.payment_statement(user=tenant_a.user, coverage="japan",
                                            month=clock.today_jst().strftime("%Y-%m"))
    text = pdf_text(data, tmp_path)
    assert "請求明細書" in text and "見本商事株式会社" in text and "総務部" in text and "経理 花子" in text
    assert order.number in text and "¥3,300" in text and "カード" in text
    assert name.endswith(".pdf") and tenant_a.tenant.public_id in name
    with pytest.raises(DomainError):
        services.payer_set(user=tenant_a.user, company="", name="x")
