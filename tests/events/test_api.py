"""Webhooks, alerts, forecast and budgets over the API (issue 13 §5): permissions and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest

from kaisen.access import services as access
from kaisen.alerts.models import AlertRule
from kaisen.events.models import WebhookEndpoint
from tests.access.helpers import api, member
from tests.conftest import TenantWorld
from tests.events.receiver import Receiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local")]


def _create(client: Any, receiver: Receiver) -> Any:
    return client.post("/api/v1/webhooks", {"url": receiver.url, "event_types": ["order.completed"]})


def test_webhook_lifecycle_over_the_api(tenant_a: TenantWorld, receiver: Receiver) -> None:
    client = tenant_a.api()
    types = client.get("/api/v1/webhooks/event-types").json()
    assert {"order.completed", "usage_alert.fired", "line.status_changed"} <= {t["type"] for t in types}
    created = _create(client, receiver)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert "secret" not in client.get("/api/v1/webhooks").json()[0]
    ping = client.post(f"/api/v1/webhooks/{body['id']}/test")
    assert ping.status_code == 200 and ping.json()["status"] == "succeeded"
    assert ping.json()["log"][0]["status_code"] == 200
    [delivery] = client.get(f"/api/v1/webhooks/{body['id']}/deliveries").json()
    again = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 200 and again.json()["attempts"] == 2
    rotated = client.post(f"/api/v1/webhooks/{body['id']}/rotate-secret", {"overlap_hours": 1})
    assert rotated.json()["secret"] != body["secret"] and rotated.json()["previous_secret_until"]
    assert client.post(f"/api/v1/webhooks/{body['id']}/rotate-secret", {"overlap_hours": 500}).status_code == 422
    off = client.request("PATCH", f"/api/v1/webhooks/{body['id']}", {"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_bad_webhook_input_is_a_4xx_with_a_code(tenant_a: TenantWorld, receiver: Receiver) -> None:
    client = tenant_a.api()
    refused = client.post("/api/v1/webhooks", {"url": "http://169.254.169.254/", "event_types": ["order.failed"]})
    assert refused.status_code == 400 and refused.json()["code"] == "WEBHOOK_URL_REFUSED"
    unknown = client.post("/api/v1/webhooks", {"url": receiver.url, "event_types": ["order.exploded"]})
    assert unknown.status_code == 400 and unknown.json()["code"] == "INVALID_EVENT_TYPE"
    assert client.post("/api/v1/webhooks", {"url": receiver.url, "event_types": []}).status_code == 400


def test_another_tenant_sees_and_touches_nothing(tenant_a: TenantWorld, tenant_b: TenantWorld,
                                                 receiver: Receiver) -> None:
    mine = _create(tenant_a.api(), receiver).json()
    tenant_a.api().post(f"/api/v1/webhooks/{mine['id']}/test")
    [delivery] = tenant_a.api().get(f"/api/v1/webhooks/{mine['id']}/deliveries").json()
    rule = tenant_a.api().post("/api/v1/alerts/rules", {"name": "big", "condition": "data_month_mb",
                                                        "threshold": "100", "actions": ["mail"]}).json()
    other = tenant_b.api()
    assert other.get("/api/v1/webhooks").json() == []
    for method, path in (("GET", f"/api/v1/webhooks/{mine['id']}"),
                         ("PATCH", f"/api/v1/webhooks/{mine['id']}"),
                         ("DELETE", f"/api/v1/webhooks/{mine['id']}"),
                         ("POST", f"/api/v1/webhooks/{mine['id']}/test"),
                         ("POST", f"/api/v1/webhooks/{mine['id']}/rotate-secret"),
                         ("GET", f"/api/v1/webhooks/{mine['id']}/deliveries"),
                         ("GET", f"/api/v1/webhooks/deliveries/{delivery['id']}"),
                         ("POST", f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver"),
                         ("PATCH", f"/api/v1/alerts/rules/{rule['id']}"),
                         ("DELETE", f"/api/v1/alerts/rules/{rule['id']}")):
        answer = other.request(method, path, {"enabled": False} if method == "PATCH" else {})
        assert answer.status_code == 404, (method, path, answer.content)
    assert other.get("/api/v1/alerts/rules").json() == []
    assert other.get("/api/v1/alerts/firings").json() == []
    assert tenant_a.api().get("/api/v1/events").json()  # mine: at least the API key and the ping
    assert {e["type"] for e in other.get("/api/v1/events").json()} == {"apikey.created"}  # theirs only
    assert all(e["data"]["user"] == tenant_b.user.username for e in other.get("/api/v1/events").json())
    assert WebhookEndpoint.objects.get(pk=mine["id"]).enabled
    assert AlertRule.objects.get(pk=rule["id"]).enabled
    # A line of another tenant cannot be the subject of a rule.
    bad = other.post("/api/v1/alerts/rules", {"name": "x", "scope": "line", "line_id": tenant_a.line.pk,
                                              "condition": "data_month_mb", "threshold": "1", "actions": ["mail"]})
    assert bad.status_code == 400 and bad.json()["field"] == "line_id"


def test_permission_actions(tenant_a: TenantWorld, receiver: Receiver) -> None:
    plain = api(member(tenant_a, username="plain_01"))
    for path in ("/api/v1/webhooks", "/api/v1/alerts/rules", "/api/v1/alerts/firings", "/api/v1/budgets"):
        assert plain.get(path).status_code == 403, path
    assert _create(plain, receiver).status_code == 403
    access.role_create(actor=tenant_a.user, name="hooks", statements=[("allow", "Webhook:manage")])
    hooks = api(member(tenant_a, "hooks", username="hooks_01"))
    assert _create(hooks, receiver).status_code == 201
    assert hooks.get("/api/v1/alerts/rules").status_code == 403
    access.role_create(actor=tenant_a.user, name="alert reader", statements=[("allow", "Alert:read")])
    reader = api(member(tenant_a, "alert reader", username="reader_01"))
    assert reader.get("/api/v1/alerts/rules").status_code == 200
    assert reader.post("/api/v1/alerts/rules", {"name": "x", "condition": "data_month_mb", "threshold": "1",
                                                "actions": ["mail"]}).status_code == 403
    assert reader.request("PUT", "/api/v1/budgets/japan", {"amount": "100"}).status_code == 403


def test_forecast_and_budget_over_the_api(tenant_a: TenantWorld) -> None:
    client = tenant_a.api()
    put = client.request("PUT", "/api/v1/budgets/japan", {"amount": "50000"})
    assert put.status_code == 200 and put.json() == {"coverage": "japan", "amount": "50000.00", "currency": "JPY"}
    assert client.request("PUT", "/api/v1/budgets/mars", {"amount": "1"}).status_code == 400
    [japan] = client.get("/api/v1/charges/forecast").json()
    assert japan["is_projection"] is True and japan["budget"] == "50000.00" and japan["over_budget"] is False
    assert client.get("/api/v1/budgets").json() == [{"coverage": "japan", "amount": "50000.00", "currency": "JPY"}]
