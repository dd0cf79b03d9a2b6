"""Goods pages and API (issue 12 §2-§3, §6): the public calculator and its switch, the order flow cart →
confirm → complete, the order detail with the tracking number, permissions and tenant isolation."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client, override_settings

from kaisen.access import services as access
from kaisen.core import clock
from kaisen.goods import services
from kaisen.goods.models import GoodsOrder, OrderStatus, Quote
from tests.access.helpers import api, member, web
from tests.conftest import TenantWorld
from tests.factories import make_iccid
from tests.goods.conftest import ADDRESS, SIM, card

pytestmark = pytest.mark.usefixtures("catalogue")


def test_public_calculator_saves_a_quote_without_login() -> None:
    client = Client()
    page = client.get("/quote/")
    assert page.status_code == 200 and SIM in page.content.decode()
    done = client.post("/quote/", {"coverage": "japan", f"p_{SIM}": "2", "shipping": "japan"})
    assert done.status_code == 302
    quote = Quote.objects.get()
    assert quote.tenant is None and done["Location"].endswith(f"/quote/{quote.token}/")
    shown = client.get(done["Location"])
    assert quote.number in shown.content.decode() and "¥4,840" in shown.content.decode()
    pdf = client.get(done["Location"] + "?format=pdf")
    assert pdf["Content-Type"] == "application/pdf"


def test_public_calculator_shows_the_parcel_limit() -> None:
    page = Client().post("/quote/", {"coverage": "japan", f"p_{SIM}": "61"})
    assert page.status_code == 200 and not Quote.objects.exists()
    assert "60" in page.content.decode()


@override_settings(KAISEN_PUBLIC_QUOTE_CALCULATOR=False)
def test_operator_can_switch_the_public_calculator_off() -> None:
    client = Client()
    assert client.get("/quote/").status_code == 404
    assert client.post("/quote/", {f"p_{SIM}": "1"}).status_code == 404
    assert client.get("/api/v1/goods/public/catalogue").status_code == 404
    r = client.post("/api/v1/goods/public/quotes", {"products": [{"code": SIM, "quantity": 1}]},
                    content_type="application/json")
    assert r.status_code == 404 and not Quote.objects.exists()


def test_public_quote_api() -> None:
    client = Client()
    r = client.post("/api/v1/goods/public/quotes", {"products": [{"code": SIM, "quantity": 1}], "shipping": "excluded"},
                    content_type="application/json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["id"] is None and Decimal(body["initial_total"]) == Decimal(1815)
    assert client.get(body["pdf_url"])["Content-Type"] == "application/pdf"
    bad = client.post("/api/v1/goods/public/quotes", {"products": [{"code": SIM, "quantity": 61}]},
                      content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "SHIPMENT_LIMIT_EXCEEDED"


def test_order_flow_cart_confirm_complete_on_the_web(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    client = web(tenant_a.user)
    cart = client.get("/goods/order/")
    assert cart.status_code == 200 and 'data-testid="review-order"' in cart.content.decode()
    form = {f"p_{SIM}": "2", "step": "cart", **ADDRESS}
    confirm = client.post("/goods/order/", form)
    text = confirm.content.decode()
    assert 'data-testid="order-confirm"' in text and "¥4,840" in text and not GoodsOrder.objects.exists()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', text).group(1)  # type: ignore[union-attr]
    done = client.post("/goods/order/", {**form, "step": "confirm", "idempotency_key": key})
    assert done.status_code == 302
    again = client.post("/goods/order/", {**form, "step": "confirm", "idempotency_key": key})  # double click
    assert again.status_code == 302 and GoodsOrder.objects.count() == 1
    order = GoodsOrder.objects.get()
    page = client.get(done["Location"])
    assert 'data-testid="order-complete"' in page.content.decode()
    services.order_settle(order_id=order.pk)
    services.order_ship(order_id=order.pk, carrier_name="ヤマト運輸", tracking_number="4455-6677-8899",
                        iccids=[make_iccid(800_001), make_iccid(800_002)])
    detail = client.get(f"/goods/orders/{order.pk}/").content.decode()
    assert "4455-6677-8899" in detail
    assert order.number in client.get("/goods/").content.decode()
    assert client.get(f"/goods/orders/{order.pk}/delivery-note/")["Content-Type"] == "application/pdf"


def test_advance_date_under_14_days_is_refused_on_the_web(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    soon = (clock.today_jst() + dt.timedelta(days=5)).isoformat()
    page = web(tenant_a.user).post("/goods/order/", {f"p_{SIM}": "1", "step": "cart", "advance": "on",
                                                    "desired_delivery_on": soon, **ADDRESS})
    assert page.status_code == 200 and 'data-testid="order-confirm"' not in page.content.decode()
    assert "14" in page.content.decode()


def test_no_payment_method_is_shown_and_the_order_refused(tenant_a: TenantWorld) -> None:
    client = web(tenant_a.user)
    assert 'data-testid="review-order" disabled' in client.get("/goods/order/").content.decode()
    r = api(tenant_a.user).post("/api/v1/goods/orders", {"products": [{"code": SIM, "quantity": 1}],
                                                         "idempotency_key": "x", **ADDRESS})
    assert r.status_code == 409 and r.json()["code"] == "NO_PAYMENT_METHOD"


def _api_order(client: Any, key: str = "k1", qty: int = 1) -> Any:
    return client.post("/api/v1/goods/orders", {"products": [{"code": SIM, "quantity": qty}],
                                                "idempotency_key": key, **ADDRESS})


def test_api_order_is_idempotent(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    client = api(tenant_a.user)
    first = _api_order(client)
    assert first.status_code == 201, first.content
    assert _api_order(client).status_code == 200
    reused = _api_order(client, qty=2)
    assert reused.status_code == 409 and reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    no_key = client.post("/api/v1/goods/orders", {"products": [{"code": SIM, "quantity": 1}], **ADDRESS})
    assert no_key.status_code == 400 and no_key.json()["field"] == "idempotency_key"
    order_id = first.json()["id"]
    detail = client.get(f"/api/v1/goods/orders/{order_id}").json()
    assert detail["status"] == "received" and detail["events"] and detail["cancellable"]
    cancelled = client.post(f"/api/v1/goods/orders/{order_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/goods/orders/{order_id}/cancel").status_code == 409


def test_api_quote_and_email(tenant_a: TenantWorld) -> None:
    client = api(tenant_a.user)
    r = client.post("/api/v1/goods/quotes", {"products": [{"code": SIM, "quantity": 3}],
                                             "running": [{"code": "RUN-OPT-VOICEMAIL", "quantity": 3}]})
    assert r.status_code == 201, r.content
    quote = r.json()
    assert quote["figures"]["initial"]["rates"][0]["tax"] == "605"
    assert client.get(quote["pdf_url"])["Content-Type"] == "application/pdf"
    sent = client.post(f"/api/v1/goods/quotes/{quote['id']}/email", {"emails": ["a@example.jp"]})
    assert sent.status_code == 200 and sent.json() == {"sent_to": ["a@example.jp"]}
    too_many = client.post(f"/api/v1/goods/quotes/{quote['id']}/email",
                           {"emails": [f"a{i}@example.jp" for i in range(6)]})
    assert too_many.status_code == 422


def test_other_tenant_gets_404_on_web_and_api(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    card(tenant_a.user)
    order, _r = services.order_create(user=tenant_a.user, idempotency_key="k",
                                      products=[{"code": SIM, "quantity": 1}], **ADDRESS)
    quote = services.quote_save(user=tenant_a.user, products=[{"code": SIM, "quantity": 1}])
    other_web, other_api = web(tenant_b.user), api(tenant_b.user)
    for path in (f"/goods/orders/{order.pk}/", f"/goods/quotes/{quote.pk}/", f"/goods/quotes/{quote.pk}/pdf/"):
        assert other_web.get(path).status_code == 404
    assert other_web.post(f"/goods/orders/{order.pk}/cancel/").status_code == 404
    for path in (f"/api/v1/goods/orders/{order.pk}", f"/api/v1/goods/quotes/{quote.pk}",
                 f"/api/v1/goods/quotes/{quote.pk}/pdf"):
        assert other_api.get(path).status_code == 404
    assert other_api.post(f"/api/v1/goods/orders/{order.pk}/cancel").status_code == 404
    assert other_api.get("/api/v1/goods/orders").json() == []
    assert order.number not in other_web.get("/goods/").content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED


def test_a_user_with_only_the_order_actions_can_order(tenant_a: TenantWorld) -> None:
    card(tenant_a.user)
    access.role_create(actor=tenant_a.user, name="buyer",
                       statements=[("allow", "Goods:order"), ("allow", "Goods:read")])
    buyer = member(tenant_a, "buyer", username="buyer_01")
    assert _api_order(api(buyer)).status_code == 201
    assert web(buyer).get("/goods/order/").status_code == 200
    assert web(buyer).get("/goods/calculator/").status_code == 403  # no Goods:quote
    nobody = member(tenant_a, "read_only", username="viewer_01")
    denied = _api_order(api(nobody), key="k2")
    assert denied.status_code == 403 and denied.json()["code"] == "PERMISSION_DENIED"
    assert web(nobody).get("/goods/order/").status_code == 403
    assert GoodsOrder.objects.count() == 1


def test_payment_statement_needs_the_payer_then_downloads(tenant_a: TenantWorld) -> None:
    client = api(tenant_a.user)
    month = clock.today_jst().strftime("%Y-%m")
    first = client.get(f"/api/v1/goods/payment-statement?month={month}")
    assert first.status_code == 400 and first.json()["field"] == "payer"
    assert client.request("PUT", "/api/v1/goods/payment-statement/payer",
                          {"company": "テスト商事", "department": "総務部", "name": "山田 太郎"}).status_code == 200
    pdf = client.get(f"/api/v1/goods/payment-statement?month={month}")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert client.get("/api/v1/goods/payment-statement?month=2999-01").status_code in (400, 422)


def test_payment_statement_page_asks_for_the_payer_then_downloads(tenant_a: TenantWorld) -> None:
    client = web(tenant_a.user)
    page = client.get("/goods/statement/").content.decode()
    assert 'name="company"' in page and 'name="month"' not in page
    bad = client.post("/goods/statement/", {"action": "payer", "company": "", "name": "x"})
    assert bad.status_code == 200
    saved = client.post("/goods/statement/", {"action": "payer", "company": "見本商事", "department": "",
                                               "name": "山田"})
    assert saved.status_code == 302
    month = clock.today_jst().strftime("%Y-%m")
    pdf = client.get(f"/goods/statement/?month={month}")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
