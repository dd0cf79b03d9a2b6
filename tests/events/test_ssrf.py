"""Server-side request forgery is refused (issue 13 §2): every resolved address is checked, at creation
and again at each delivery; only an explicit setting allows private addresses (development, tests)."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings

from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events import catalogue
from kaisen.events.delivery import deliver
from kaisen.events.models import Delivery, WebhookEndpoint
from kaisen.events.services import endpoint_create, event_emit
from kaisen.events.transport import check_url
from tests.conftest import TenantWorld
from tests.events.receiver import Receiver

pytestmark = pytest.mark.django_db

REFUSED = [
    "http://127.0.0.1/hook", "http://127.1.2.3:8080/", "http://localhost/hook", "http://[::1]/hook",
    "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/", "http://100.64.0.1/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
    "http://224.0.0.1/", "ftp://example.com/", "http://user:pw@93.184.215.14/", "not a url",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_link_local_and_metadata_are_refused(url: str) -> None:
    with pytest.raises(DomainError) as exc:
        check_url(url)
    assert exc.value.code == ErrorCode.WEBHOOK_URL_REFUSED


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one private address is refused (no picking the good one)."""
    def fake(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(DomainError):
        check_url("https://hooks.example.com/x")


def test_public_name_is_pinned_to_its_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))])
    target = check_url("https://hooks.example.com/x?y=1")
    assert target.url == "https://93.184.215.14:443/x?y=1"
    assert target.host_header == "hooks.example.com" and target.sni == "hooks.example.com"


def test_metadata_address_refused_even_when_private_addresses_are_allowed() -> None:
    with override_settings(KAISEN_WEBHOOK_ALLOW_PRIVATE=True), pytest.raises(DomainError):
        check_url("http://169.254.169.254/")


def test_endpoint_creation_refuses_a_loopback_url(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        endpoint_create(tenant=tenant_a.tenant, user=tenant_a.user, url="http://127.0.0.1:9/hook",
                        event_types=[catalogue.APIKEY_CREATED])
    assert exc.value.code == ErrorCode.WEBHOOK_URL_REFUSED and exc.value.field == "url"
    assert not WebhookEndpoint.objects.filter(tenant=tenant_a.tenant).exists()


def test_delivery_is_refused_again_when_the_address_is_no_longer_allowed(tenant_a: TenantWorld) -> None:
    """Checked at every attempt, not only when the endpoint was saved: nothing reaches the receiver."""
    receiver = Receiver().start()
    try:
        with override_settings(KAISEN_WEBHOOK_ALLOW_PRIVATE=True):
            endpoint_create(tenant=tenant_a.tenant, user=tenant_a.user, url=receiver.url,
                            event_types=[catalogue.APIKEY_CREATED])
        event = event_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED,
                           data={"key_id": "K", "name": "n", "user": "u"})
        delivery = Delivery.objects.get(event=event)
        assert deliver(delivery.pk) == "failed"
        assert receiver.requests == []
        [attempt] = delivery.log.all()
        assert "not allowed" in attempt.error
    finally:
        receiver.stop()
