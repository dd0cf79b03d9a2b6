"""Delivering one webhook (issue 13 §2): at least once, in order per line, with exponential backoff.

``deliver`` claims a due delivery with a conditional ``UPDATE`` (two workers never send the same attempt;
a worker that dies mid-send leaves a claim that expires after ``LEASE``), sends it outside any transaction
through ``kaisen.events.transport.post`` and records the attempt. A failed attempt is tried again after
``BACKOFF[attempts]``: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts over 27 h 35 min; then the
delivery is given up (the tenant can still redeliver it by hand). Every attempt of one event carries the
same ``webhook-id``: the receiver's idempotency key.

Ordering: for one endpoint, the events of one line are delivered in the order they happened — a delivery
waits while an earlier delivery of the same line to the same endpoint is still pending. Events of different
lines, and events without a line, are not ordered with respect to each other.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef

from kaisen.core import clock
from kaisen.events import signing, transport
from kaisen.events.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint
from kaisen.notifications.services import outbox_add

log = logging.getLogger(__name__)

BACKOFF: tuple[dt.timedelta, ...] = (
    dt.timedelta(seconds=5), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2),
    dt.timedelta(hours=5), dt.timedelta(hours=10), dt.timedelta(hours=10),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
#: A claimed attempt not recorded after this long is due again (its worker died).
LEASE = dt.timedelta(minutes=2)


def envelope(event: Event, tenant_public_id: str) -> str:
    body = {"id": event.event_id, "type": event.type, "version": event.version,
            "timestamp": event.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "tenant": tenant_public_id, "data": event.data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def endpoint_secrets(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    out = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        out.append(endpoint.previous_secret)
    return out


def _earlier_pending(delivery: Delivery) -> bool:
    if delivery.line_id is None:
        return False
    return Delivery.objects.filter(endpoint_id=delivery.endpoint_id, line_id=delivery.line_id,
                                   status=DeliveryStatus.PENDING, pk__lt=delivery.pk).exists()


def deliver(delivery_id: int, *, manual: bool = False) -> str:
    """One attempt of a due delivery (``manual``: now, whatever its schedule or status). Returns
    'sent', 'failed', 'waiting' (an earlier event of the line goes first), or 'skipped'."""
    now = clock.now()
    delivery = Delivery.objects.select_related("endpoint", "event", "tenant").filter(pk=delivery_id).first()
    if delivery is None:
        return "skipped"
    endpoint = delivery.endpoint
    if not manual:
        if delivery.status != DeliveryStatus.PENDING or not endpoint.enabled:
            return "skipped"
        if _earlier_pending(delivery):
            return "waiting"
        claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING,
                                          next_attempt_at__lte=now).update(next_attempt_at=now + LEASE)
        if not claimed:
            return "skipped"
    body = envelope(delivery.event, delivery.tenant.public_id)
    headers = signing.headers(secrets_=endpoint_secrets(endpoint, now), msg_id=delivery.event.event_id,
                              timestamp=now, body=body)
    answer = transport.post(endpoint.url, body=body.encode(), headers=headers)
    _record(delivery, answer, at=now, manual=manual)
    return "sent" if answer.ok else "failed"


def _record(delivery: Delivery, answer: transport.Answer, *, at: dt.datetime, manual: bool) -> None:
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        DeliveryAttempt.objects.create(delivery=locked, tenant_id=locked.tenant_id, attempted_at=at, manual=manual,
                                       ok=answer.ok, status_code=answer.status_code, latency_ms=answer.latency_ms,
                                       response_excerpt=answer.excerpt[:500], error=answer.error[:300])
        locked.attempts += 1
        locked.last_status_code = answer.status_code
        if answer.ok:
            locked.status = DeliveryStatus.SUCCEEDED
            locked.finished_at = clock.now()
            locked.next_attempt_at = None
            WebhookEndpoint.objects.filter(pk=locked.endpoint_id).update(consecutive_failures=0)
        else:
            if manual and locked.status != DeliveryStatus.PENDING:
                pass  # a hand redelivery of a finished delivery does not start its schedule again
            elif locked.attempts >= MAX_ATTEMPTS:
                locked.status = DeliveryStatus.FAILED
                locked.finished_at = clock.now()
                locked.next_attempt_at = None
            else:
                locked.next_attempt_at = at + BACKOFF[min(locked.attempts, len(BACKOFF)) - 1]
            _count_failure(locked.endpoint_id)
        locked.save(update_fields=["attempts", "last_status_code", "status", "finished_at", "next_attempt_at"])


def _count_failure(endpoint_id: int) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("tenant").get(pk=endpoint_id)
    if endpoint.enabled and endpoint.consecutive_failures >= settings.KAISEN_WEBHOOK_DISABLE_AFTER:
        endpoint.enabled = False
        endpoint.disabled_reason = f"{endpoint.consecutive_failures} failed attempts in a row"
        endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
        tenant = endpoint.tenant
        subject = "【Kaisen】Webhookの送信先を停止しました / A webhook endpoint was disabled"
        body = (f"Webhookの送信先 {endpoint.url} への送信が{endpoint.consecutive_failures}回続けて失敗したため、"
                "この送信先を停止しました。受信側を確認のうえ、Kaisenの「Webhook」画面で有効にしてください。"
                "停止中のイベントは有効にした後に送信されます。\n\n"
                f"Deliveries to the webhook endpoint {endpoint.url} failed {endpoint.consecutive_failures} times "
                "in a row, so the endpoint was disabled. Check the receiver, then enable the endpoint again on "
                "Kaisen's Webhooks page; the events held meanwhile are sent once it is enabled.\n")
        outbox_add(tenant=tenant, order=None, topic="webhook.disabled", to=[tenant.notification_email],
                   subject=subject, body=body)
        log.warning("webhook endpoint %s disabled after %s failures", endpoint.pk, endpoint.consecutive_failures)


#: Deliveries claimed together by ``deliver_batch``: their claim lasts ``LEASE`` plus one timeout each.
CHUNK = 50


def deliver_batch(delivery_ids: list[int]) -> dict[str, int]:
    """The due deliveries among ``delivery_ids``, in ID order, chunk by chunk: the same rules as ``deliver``
    at a fixed cost per chunk — one claim (``SELECT … FOR UPDATE SKIP LOCKED`` and one ``UPDATE``), the
    requests (one keep-alive connection per receiver), and the successes recorded together (the attempts
    inserted in bulk, one ``UPDATE`` of the deliveries, one of the endpoints). A failure is recorded on its
    own, as by ``deliver`` (backoff, the failure count, disabling); the later deliveries of its line in the
    chunk are not sent (they wait for it). Returns how many were 'sent', 'failed', 'waiting', 'skipped'."""
    outcome: dict[str, int] = {}
    ids = sorted(set(delivery_ids))
    for i in range(0, len(ids), CHUNK):
        for key, value in _deliver_chunk(ids[i:i + CHUNK]).items():
            outcome[key] = outcome.get(key, 0) + value
    return outcome


def _deliver_chunk(ids: list[int]) -> dict[str, int]:
    now = clock.now()
    lease = LEASE + dt.timedelta(seconds=float(settings.KAISEN_WEBHOOK_TIMEOUT_SECONDS) * len(ids))
    earlier = Delivery.objects.filter(endpoint_id=OuterRef("endpoint_id"), line_id=OuterRef("line_id"),
                                      status=DeliveryStatus.PENDING, pk__lt=OuterRef("pk")).exclude(pk__in=ids)
    with transaction.atomic():
        claimed = list(Delivery.objects.select_for_update(of=("self",), skip_locked=True)
                       .select_related("endpoint", "event", "tenant")
                       .filter(pk__in=ids, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                               endpoint__enabled=True)
                       .exclude(Exists(earlier)).order_by("id"))
        if claimed:
            Delivery.objects.filter(pk__in=[d.pk for d in claimed]).update(next_attempt_at=now + lease)
    outcome = {"skipped": len(ids) - len(claimed)}
    # One line's deliveries (per endpoint) go one after another, the others side by side (``SENDERS``
    # threads, each with its keep-alive connections); a failure stops the rest of its line.
    groups: dict[tuple[Any, ...], list[Delivery]] = {}
    for delivery in claimed:
        key = (delivery.endpoint_id, delivery.line_id) if delivery.line_id is not None else ("one", delivery.pk)
        groups.setdefault(key, []).append(delivery)
    results = [r for done in _pool().map(_send_in_order, groups.values()) for r in done]
    tried = {d.pk for d, _a, _at in results}
    release = [d.pk for d in claimed if d.pk not in tried]
    if release:
        outcome["waiting"] = len(release)
    sent: list[tuple[Delivery, transport.Answer, dt.datetime]] = []
    for delivery, answer, at in sorted(results, key=lambda r: r[0].pk):
        if answer.ok:
            sent.append((delivery, answer, at))
            outcome["sent"] = outcome.get("sent", 0) + 1
            continue
        _record_successes(sent)  # in order: the failure count starts after them
        sent = []
        _record(delivery, answer, at=at, manual=False)
        outcome["failed"] = outcome.get("failed", 0) + 1
    _record_successes(sent)
    if release:
        Delivery.objects.filter(pk__in=release, status=DeliveryStatus.PENDING).update(next_attempt_at=clock.now())
    return {k: v for k, v in outcome.items() if v}


#: Threads sending one chunk's deliveries of different lines side by side.
SENDERS = 4
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="kaisen-webhook")
        return _executor


def _send_in_order(group: list[Delivery]) -> list[tuple[Delivery, transport.Answer, dt.datetime]]:
    """Send one line's deliveries in order, up to the first failure (no database access: a sender thread)."""
    done = []
    for delivery in group:
        at = clock.now()
        body = envelope(delivery.event, delivery.tenant.public_id)
        headers = signing.headers(secrets_=endpoint_secrets(delivery.endpoint, at), msg_id=delivery.event.event_id,
                                  timestamp=at, body=body)
        answer = transport.post(delivery.endpoint.url, body=body.encode(), headers=headers)
        done.append((delivery, answer, at))
        if not answer.ok:
            break
    return done


def _record_successes(sent: list[tuple[Delivery, transport.Answer, dt.datetime]]) -> None:
    if not sent:
        return
    finished = clock.now()
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create([
            DeliveryAttempt(delivery_id=d.pk, tenant_id=d.tenant_id, attempted_at=at, manual=False, ok=True,
                            status_code=a.status_code, latency_ms=a.latency_ms, response_excerpt=a.excerpt[:500],
                            error="") for d, a, at in sent])
        by_code: dict[int | None, list[int]] = {}
        for d, a, _at in sent:
            by_code.setdefault(a.status_code, []).append(d.pk)
        for code, pks in by_code.items():  # one UPDATE for the usual single status code
            Delivery.objects.filter(pk__in=pks).update(
                attempts=F("attempts") + 1, last_status_code=code, status=DeliveryStatus.SUCCEEDED,
                finished_at=finished, next_attempt_at=None)
        WebhookEndpoint.objects.filter(pk__in={d.endpoint_id for d, _a, _at in sent}, consecutive_failures__gt=0
                                       ).update(consecutive_failures=0)


def deliveries_due(now: dt.datetime | None = None, *, limit: int = 200) -> list[int]:
    now = now or clock.now()
    return list(Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                                        endpoint__enabled=True)
                .order_by("id").values_list("pk", flat=True)[:limit])


def deliveries_send_due(*, limit: int = 50, budget_seconds: float = 20.0) -> int:
    """The scheduler's sweep: retries whose backoff has passed, and first attempts a lost task left behind.
    Stops after ``budget_seconds`` so the scheduler's other work is not held up. Returns how many were sent."""
    import time

    started = time.monotonic()
    sent = 0
    due = deliveries_due(limit=limit)
    for i in range(0, len(due), CHUNK):
        if time.monotonic() - started > budget_seconds:
            break
        try:
            sent += _deliver_chunk(due[i:i + CHUNK]).get("sent", 0)
        except Exception:
            log.exception("webhook deliveries %s… failed unexpectedly", due[i])
    return sent
