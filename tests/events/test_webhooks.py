"""Webhooks (issue 13 §2) against a real HTTP receiver on 127.0.0.1 that fails, times out and recovers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events import catalogue
from kaisen.events.delivery import BACKOFF, MAX_ATTEMPTS, deliver, deliver_batch, deliveries_due
from kaisen.events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from kaisen.events.services import (
    delivery_redeliver,
    endpoint_create,
    endpoint_ping,
    endpoint_rotate_secret,
    endpoint_update,
    event_emit,
)
from kaisen.notifications.models import OutboxMessage
from tests.conftest import TenantWorld
from tests.events.receiver import Receiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local")]

DATA = {"key_id": "KK1", "name": "k", "user": "u"}


def _endpoint(world: TenantWorld, receiver: Receiver, types: list[str] | None = None) -> WebhookEndpoint:
    return endpoint_create(tenant=world.tenant, user=world.user, url=receiver.url,
                           event_types=types or [catalogue.APIKEY_CREATED, catalogue.LINE_STATUS_CHANGED])


def _emit(world: TenantWorld, line_id: int | None = None, type_: str = catalogue.APIKEY_CREATED) -> Delivery:
    data = DATA if type_ == catalogue.APIKEY_CREATED else {
        "line_id": line_id, "from_status": "active", "to_status": "suspended"}
    event = event_emit(tenant_id=world.tenant.pk, type=type_, data=data, line_id=line_id)
    return Delivery.objects.get(event=event)


def _later(seconds: float) -> time_machine.travel:
    return time_machine.travel(clock.now() + dt.timedelta(seconds=seconds), tick=True)


def test_delivery_is_signed_per_standard_webhooks_and_carries_the_event(tenant_a: TenantWorld,
                                                                        receiver: Receiver) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    delivery = _emit(tenant_a)
    assert deliver(delivery.pk) == "sent"
    [got] = receiver.requests
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)  # raises if the signature is wrong
    assert payload["type"] == "apikey.created" and payload["version"] == 1
    assert payload["data"] == DATA and payload["tenant"] == tenant_a.tenant.public_id
    assert got.headers["webhook-id"] == delivery.event.event_id == payload["id"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1
    [attempt] = delivery.log.all()
    assert attempt.ok and attempt.status_code == 200 and attempt.response_excerpt == "ok"


def test_receiver_fails_then_recovers_with_backoff_and_the_same_webhook_id(tenant_a: TenantWorld,
                                                                           receiver: Receiver) -> None:
    _endpoint(tenant_a, receiver)
    delivery = _emit(tenant_a)
    receiver.status, receiver.body = 500, b"database down"
    assert deliver(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at - clock.now() > dt.timedelta(seconds=3)  # the first backoff: 5 s
    assert deliver(delivery.pk) == "skipped"  # not due yet: nothing sent
    assert len(receiver.requests) == 1
    [failed] = delivery.log.all()
    assert failed.status_code == 500 and failed.response_excerpt == "database down" and not failed.ok
    receiver.status, receiver.body = 204, b""
    with _later(6):
        assert delivery.pk in deliveries_due()
        assert deliver(delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


def test_timeout_is_a_failed_attempt_with_its_latency(tenant_a: TenantWorld, receiver: Receiver) -> None:
    _endpoint(tenant_a, receiver)
    delivery = _emit(tenant_a)
    receiver.delay = 2.5
    with override_settings(KAISEN_WEBHOOK_TIMEOUT_SECONDS=0.5):
        assert deliver(delivery.pk) == "failed"
    [attempt] = delivery.log.all()
    assert attempt.error == "timeout" and attempt.status_code is None
    assert 400 <= attempt.latency_ms < 2500


def test_backoff_spans_more_than_a_day_then_gives_up(tenant_a: TenantWorld, receiver: Receiver) -> None:
    assert sum(BACKOFF, dt.timedelta(0)) >= dt.timedelta(hours=24)
    assert list(BACKOFF) == sorted(BACKOFF)  # exponential-ish: never shorter than the one before
    _endpoint(tenant_a, receiver)
    delivery = _emit(tenant_a)
    receiver.status = 503
    start = clock.now()
    with override_settings(KAISEN_WEBHOOK_DISABLE_AFTER=1000):
        for step in range(MAX_ATTEMPTS):
            wait = sum(BACKOFF[:step], dt.timedelta(0)).total_seconds() + step
            with time_machine.travel(start + dt.timedelta(seconds=wait), tick=True):
                assert deliver(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == MAX_ATTEMPTS
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_endpoint_is_disabled_after_repeated_failures_and_the_tenant_mailed(tenant_a: TenantWorld,
                                                                          receiver: Receiver) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    receiver.status = 500
    with override_settings(KAISEN_WEBHOOK_DISABLE_AFTER=3):
        for _ in range(3):
            assert deliver(_emit(tenant_a).pk) == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.consecutive_failures == 3
    mail = OutboxMessage.objects.get(tenant=tenant_a.tenant, topic="webhook.disabled")
    assert endpoint.url in mail.body and mail.to == [tenant_a.tenant.notification_email]
    # Disabled: new events get no delivery, pending ones are not sent.
    before = len(receiver.requests)
    event_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED, data=DATA)
    assert deliveries_due() == []
    assert len(receiver.requests) == before
    # Enabled again: the failure count starts over and held deliveries go out.
    receiver.status = 200
    endpoint_update(tenant=tenant_a.tenant, user=tenant_a.user, endpoint_id=endpoint.pk, enabled=True)
    with _later(400):
        due = deliveries_due()
        assert due
        assert deliver(due[0]) == "sent"


def test_a_success_resets_the_failure_count(tenant_a: TenantWorld, receiver: Receiver) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    receiver.status = 500
    with override_settings(KAISEN_WEBHOOK_DISABLE_AFTER=3):
        deliver(_emit(tenant_a).pk)
        deliver(_emit(tenant_a).pk)
        receiver.status = 200
        deliver(_emit(tenant_a).pk)
        receiver.status = 500
        deliver(_emit(tenant_a).pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.consecutive_failures == 1


def test_secret_rotation_signs_with_both_secrets_during_the_overlap(tenant_a: TenantWorld,
                                                                    receiver: Receiver) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    old = endpoint.secret
    endpoint = endpoint_rotate_secret(tenant=tenant_a.tenant, user=tenant_a.user, endpoint_id=endpoint.pk,
                                      overlap=dt.timedelta(hours=2))
    assert endpoint.secret != old
    deliver(_emit(tenant_a).pk)
    got = receiver.requests[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(endpoint.secret).verify(got.body, got.headers)
    with _later(3 * 3600):
        deliver(_emit(tenant_a).pk)
        got = receiver.requests[-1]
        assert len(got.headers["webhook-signature"].split(" ")) == 1
        Webhook(endpoint.secret).verify(got.body, got.headers)
        with pytest.raises(Exception, match=r"(?i)signature"):
            Webhook(old).verify(got.body, got.headers)


def test_rotation_overlap_is_bounded(tenant_a: TenantWorld, receiver: Receiver) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    with pytest.raises(DomainError) as exc:
        endpoint_rotate_secret(tenant=tenant_a.tenant, user=tenant_a.user, endpoint_id=endpoint.pk,
                               overlap=dt.timedelta(days=8))
    assert exc.value.code == ErrorCode.VALIDATION_ERROR


def test_events_of_one_line_are_delivered_in_order(tenant_a: TenantWorld, receiver: Receiver) -> None:
    _endpoint(tenant_a, receiver)
    line = tenant_a.line
    first = _emit(tenant_a, line.pk, catalogue.LINE_STATUS_CHANGED)
    second = _emit(tenant_a, line.pk, catalogue.LINE_STATUS_CHANGED)
    other_line = _emit(tenant_a, tenant_a.lines[1].pk, catalogue.LINE_STATUS_CHANGED)
    receiver.status = 500
    assert deliver(first.pk) == "failed"
    receiver.status = 200
    assert deliver(second.pk) == "waiting"  # the earlier event of the line is still pending
    assert deliver(other_line.pk) == "sent"  # another line is not held up
    with _later(6):
        assert deliver(first.pk) == "sent"
        assert deliver(second.pk) == "sent"
    ids = [json.loads(r.body)["id"] for r in receiver.requests if r.headers.get("webhook-id")]
    assert ids.index(first.event.event_id, 1) < ids.index(second.event.event_id)


def test_a_batch_keeps_each_lines_order_and_records_every_attempt(tenant_a: TenantWorld,
                                                                   receiver: Receiver) -> None:
    """The worker's batch path (``deliver_batch``): a failed event holds back the later events of its line in
    the same batch, not those of other lines; the successes are recorded (attempts, status, failure count)
    as one by one."""
    endpoint = _endpoint(tenant_a, receiver)
    a, b = tenant_a.lines[0].pk, tenant_a.lines[1].pk
    a1, a2, b1 = (_emit(tenant_a, a, catalogue.LINE_STATUS_CHANGED), _emit(tenant_a, a, catalogue.LINE_STATUS_CHANGED),
                  _emit(tenant_a, b, catalogue.LINE_STATUS_CHANGED))
    receiver.status = 500
    assert deliver_batch([a1.pk, a2.pk]) == {"failed": 1, "waiting": 1}
    a2.refresh_from_db()
    assert a2.attempts == 0 and a2.next_attempt_at is not None and a2.next_attempt_at <= clock.now()
    receiver.status = 200
    assert deliver_batch([a2.pk, b1.pk]) == {"sent": 1, "skipped": 1}  # a2 waits for a1; b1 goes
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0  # the success reset it
    with _later(6):
        assert deliver_batch([a1.pk, a2.pk, b1.pk]) == {"sent": 2, "skipped": 1}
    for d in (a1, a2, b1):
        d.refresh_from_db()
        assert d.status == DeliveryStatus.SUCCEEDED and d.finished_at and d.last_status_code == 200
    assert [x.ok for x in a1.log.order_by("id")] == [False, True] and a2.log.get().latency_ms >= 0
    ids = [json.loads(r.body)["id"] for r in receiver.requests]
    assert ids.index(a1.event.event_id, 1) < ids.index(a2.event.event_id)


def test_redirects_are_not_followed(tenant_a: TenantWorld, receiver: Receiver) -> None:
    _endpoint(tenant_a, receiver)
    receiver.status, receiver.location = 302, "/elsewhere"
    delivery = _emit(tenant_a)
    assert deliver(delivery.pk) == "failed"
    assert [r.path for r in receiver.requests] == ["/hook"]
    [attempt] = delivery.log.all()
    assert attempt.status_code == 302 and "redirect" in attempt.error


def test_response_read_is_capped(tenant_a: TenantWorld, receiver: Receiver) -> None:
    _endpoint(tenant_a, receiver)
    receiver.body = b"x" * (3 * 1024 * 1024)
    delivery = _emit(tenant_a)
    assert deliver(delivery.pk) == "sent"
    [attempt] = delivery.log.all()
    assert len(attempt.response_excerpt) == 500


def test_manual_redeliver_and_test_ping(tenant_a: TenantWorld, receiver: Receiver) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    delivery = _emit(tenant_a)
    deliver(delivery.pk)
    again = delivery_redeliver(tenant=tenant_a.tenant, user=tenant_a.user, delivery_id=delivery.pk)
    assert again.attempts == 2 and again.log.filter(manual=True).count() == 1
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    ping = endpoint_ping(tenant=tenant_a.tenant, user=tenant_a.user, endpoint_id=endpoint.pk)
    assert ping.status == DeliveryStatus.SUCCEEDED
    assert json.loads(receiver.requests[-1].body)["type"] == "webhook.test"
    receiver.status = 500
    ping = endpoint_ping(tenant=tenant_a.tenant, user=tenant_a.user, endpoint_id=endpoint.pk)
    assert ping.status == DeliveryStatus.FAILED and ping.next_attempt_at is None  # a ping is never retried


def test_only_subscribed_enabled_endpoints_of_the_tenant_get_the_event(tenant_a: TenantWorld,
                                                                       tenant_b: TenantWorld,
                                                                       receiver: Receiver) -> None:
    mine = _endpoint(tenant_a, receiver, [catalogue.APIKEY_CREATED])
    _endpoint(tenant_a, receiver, [catalogue.ORDER_COMPLETED])
    theirs = _endpoint(tenant_b, receiver, [catalogue.APIKEY_CREATED])
    event = event_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED, data=DATA)
    assert [d.endpoint_id for d in Delivery.objects.filter(event=event)] == [mine.pk]
    assert not Delivery.objects.filter(endpoint=theirs, event=event).exists()


def test_event_rolls_back_with_its_change(tenant_a: TenantWorld) -> None:
    from django.db import transaction

    before = Event.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED, data=DATA)
        raise RuntimeError("the change failed")
    assert Event.objects.count() == before
