"""The goods back office (issue 12 §1, §4): catalogue checks, price versions, and fulfilment by staff with the
change permission of orders only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from kaisen.accounts.services import user_create
from kaisen.goods import services
from kaisen.goods.models import CatalogueItem, GoodsOrder, ItemPrice, OrderStatus
from kaisen.lines.models import Line, Plan
from tests.conftest import TenantWorld
from tests.factories import make_iccid
from tests.goods.conftest import ADDRESS, SIM, invoice_method

pytestmark = pytest.mark.usefixtures("catalogue")


def _staff(username: str, *perms: str, superuser: bool = False) -> Client:
    user = user_create(tenant=None, username=username, password="Staff-password-2026", is_staff=True,
                       is_superuser=superuser)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def _awaiting(world: TenantWorld) -> GoodsOrder:
    invoice_method(world.tenant)
    order, _r = services.order_create(user=world.user, idempotency_key="adm",
                                      products=[{"code": SIM, "quantity": 1}], **ADDRESS)
    return services.order_settle(order_id=order.pk)


def test_staff_ship_an_order_from_its_page(tenant_a: TenantWorld) -> None:
    order = _awaiting(tenant_a)
    client = _staff("goods_boss", superuser=True)
    page = client.get(f"/admin/goods/goodsorder/{order.pk}/change/")
    assert page.status_code == 200 and 'name="tracking_number"' in page.content.decode()
    iccid = make_iccid(600_001)
    done = client.post(f"/admin/goods/goodsorder/{order.pk}/ship/",
                       {"carrier_name": "ヤマト運輸", "tracking_number": "1234-5678", "iccids": iccid})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and Line.objects.filter(iccid=iccid, tenant=tenant_a.tenant).exists()
    note = client.get(f"/admin/goods/goodsorder/{order.pk}/delivery-note/")
    assert note["Content-Type"] == "application/pdf"


def test_a_viewer_cannot_ship(tenant_a: TenantWorld) -> None:
    order = _awaiting(tenant_a)
    viewer = _staff("goods_viewer", "view_goodsorder")
    assert viewer.get(f"/admin/goods/goodsorder/{order.pk}/change/").status_code == 200
    refused = viewer.post(f"/admin/goods/goodsorder/{order.pk}/ship/",
                          {"carrier_name": "x", "tracking_number": "1", "iccids": make_iccid(600_002)})
    assert refused.status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT


def test_catalogue_refuses_a_size_the_carrier_does_not_offer() -> None:
    client = _staff("goods_cat", superuser=True)
    plan = Plan.objects.get(code="SB-1G")
    form = {"code": "SIM-SB-MICRO", "name": "x", "name_en": "x", "kind": "sim", "coverage": "japan",
            "carrier": "softbank", "sim_type": "data", "sim_size": "micro", "plan": plan.pk, "tax_class": "taxable_10",
            "stock_state": "in_stock", "size_units": 1, "capacity_units": 0, "position": 0, "is_active": "on",
            "prices-TOTAL_FORMS": 0, "prices-INITIAL_FORMS": 0}
    page = client.post("/admin/goods/catalogueitem/add/", form)
    assert page.status_code == 200 and not CatalogueItem.objects.filter(code="SIM-SB-MICRO").exists()
    ok = client.post("/admin/goods/catalogueitem/add/", {**form, "code": "SIM-SB-NANO2", "sim_size": "nano"})
    assert ok.status_code == 302 and CatalogueItem.objects.filter(code="SIM-SB-NANO2").exists()


def test_price_version_in_the_past_is_refused_in_the_back_office() -> None:
    client = _staff("goods_price", superuser=True)
    item = CatalogueItem.objects.get(code=SIM)
    before = ItemPrice.objects.count()
    client.post("/admin/goods/itemprice/add/", {"item": item.pk, "valid_from": "2000-01-01", "amount": "1"})
    assert ItemPrice.objects.count() == before
