"""The Usage alerts and Webhooks pages (issue 13 §5): Japanese and English, permissions, tenant isolation."""

from __future__ import annotations

import pytest

from kaisen.alerts.models import AlertRule
from kaisen.events.models import DeliveryStatus, WebhookEndpoint
from tests.access.helpers import member, web
from tests.conftest import TenantWorld
from tests.events.receiver import Receiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local")]


def test_webhook_pages_add_ping_redeliver_rotate(tenant_a: TenantWorld, receiver: Receiver) -> None:
    client = web(tenant_a.user)
    page = client.get("/alerts/webhooks/")
    assert page.status_code == 200 and "order.completed" in page.content.decode()
    added = client.post("/alerts/webhooks/", {"url": receiver.url, "event_types": ["order.completed"]})
    assert added.status_code == 302
    endpoint = WebhookEndpoint.objects.get(tenant=tenant_a.tenant)
    assert added["Location"] == f"/alerts/webhooks/{endpoint.pk}/"
    client.post(added["Location"], {"do": "test"})
    delivery = endpoint.deliveries.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 1
    client.post(added["Location"], {"do": "redeliver", "delivery_id": delivery.pk})
    assert len(receiver.requests) == 2
    detail = client.get(added["Location"]).content.decode()
    assert delivery.event.event_id in detail and "200" in detail and endpoint.secret in detail
    client.post(added["Location"], {"do": "rotate", "overlap_hours": "2"})
    endpoint.refresh_from_db()
    assert endpoint.previous_secret and endpoint.previous_secret_until
    client.post(added["Location"], {"do": "disable"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled


def test_bad_webhook_form_shows_the_error(tenant_a: TenantWorld) -> None:
    client = web(tenant_a.user)
    page = client.post("/alerts/webhooks/", {"url": "http://169.254.169.254/", "event_types": ["order.failed"]})
    assert page.status_code == 400 and "公開アドレスではありません" in page.content.decode()  # Japanese by default
    assert not WebhookEndpoint.objects.exists()


def test_alert_page_adds_a_rule_and_shows_the_projection(tenant_a: TenantWorld) -> None:
    client = web(tenant_a.user)
    page = client.get("/alerts/")
    assert page.status_code == 200 and 'data-testid="forecast"' in page.content.decode()
    added = client.post("/alerts/", {"do": "create", "name": "Big users", "scope": "all",
                                     "condition": "data_month_mb", "threshold": "500", "actions": ["mail"]})
    assert added.status_code == 302
    rule = AlertRule.objects.get(tenant=tenant_a.tenant)
    assert (rule.name, rule.threshold, rule.actions) == ("Big users", 500, ["mail"])
    bad = client.post("/alerts/", {"do": "create", "name": "x", "scope": "all", "condition": "data_month_mb",
                                   "threshold": "-1", "actions": ["mail"]})
    assert bad.status_code == 400
    client.post("/alerts/", {"do": "budget", "coverage": "japan", "amount": "12345"})
    assert "12,345" in client.get("/alerts/").content.decode()


@pytest.mark.parametrize("lang, words", [("ja", ["利用アラート", "月末見込み額"]),
                                         ("en", ["Usage alerts", "Projected"])])
def test_pages_in_japanese_and_english(tenant_a: TenantWorld, lang: str, words: list[str]) -> None:
    client = web(tenant_a.user)
    client.cookies["django_language"] = lang
    body = client.get("/alerts/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    for word in words:
        assert word in body
    hooks = client.get("/alerts/webhooks/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert ("Webhook" in hooks) and (("送信先" in hooks) if lang == "ja" else ("Endpoints" in hooks))


def test_other_tenant_and_users_without_permission(tenant_a: TenantWorld, tenant_b: TenantWorld,
                                                   receiver: Receiver) -> None:
    web(tenant_a.user).post("/alerts/webhooks/", {"url": receiver.url, "event_types": ["order.completed"]})
    endpoint = WebhookEndpoint.objects.get(tenant=tenant_a.tenant)
    other = web(tenant_b.user)
    assert other.get(f"/alerts/webhooks/{endpoint.pk}/").status_code == 404
    assert other.post(f"/alerts/webhooks/{endpoint.pk}/", {"do": "delete"}).status_code == 404
    assert receiver.url not in other.get("/alerts/webhooks/").content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    plain = web(member(tenant_a, username="plain_02"))
    assert plain.get("/alerts/").status_code == 403
    assert plain.get("/alerts/webhooks/").status_code == 403
    assert plain.get(f"/alerts/webhooks/{endpoint.pk}/").status_code == 403
