"""Writing events and managing webhook endpoints (issue 13 §1-§2).

``event_emit`` is called by the app that makes a change, inside the transaction of that change: the event
row (the outbox) and one delivery per subscribed, enabled endpoint are written with it, and the first
delivery attempts are enqueued after commit. If the change rolls back, so does its event.

Inside ``batching()`` the events emitted are collected and written when the block ends, all of them with one
``INSERT`` and one look-up of the subscribed endpoints, whatever their number, type or tenant
(``kaisen.procedures.workflow.recording`` uses it, so an order that completes, and changes its line's status,
pays for its events once: issue 11 §1).

The endpoint functions take the tenant and trust their caller with the permission check (the pages, API
and CLI in ``kaisen.alerts`` check ``Webhook:manage``; this app sits below ``access``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.pending import PendingWrites
from kaisen.events import catalogue
from kaisen.events.delivery import deliver
from kaisen.events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from kaisen.events.signing import new_secret
from kaisen.events.tasks import BATCH, webhook_deliver_batch_task
from kaisen.events.transport import check_url

log = logging.getLogger(__name__)

#: How long the old secret still signs after a rotation, unless the caller says otherwise.
DEFAULT_OVERLAP = dt.timedelta(hours=24)
MAX_OVERLAP = dt.timedelta(days=7)
MAX_ENDPOINTS = 20


def new_event_id() -> str:
    """``evt_`` + 12 hex digits of milliseconds + 14 random: sortable by time, unique."""
    return f"evt_{int(time.time() * 1000):012x}{secrets.token_hex(7)}"


#: The events emitted inside ``batching()``, written at its end (``_write``: one ``INSERT`` and one look-up of
#: the subscribed endpoints).
_events: PendingWrites[Event] = PendingWrites(lambda pending: _write(pending))


def batching() -> AbstractContextManager[None]:
    """Collect the events emitted in the block and write them at its end (``kaisen.core.pending``: inside the
    caller's transaction; nested blocks join the outermost; nothing written if the block raises)."""
    return _events.block()


def _event(*, tenant_id: int, type: str, data: dict[str, Any], line_id: int | None,
           at: dt.datetime | None, now: dt.datetime) -> Event:
    event_type = catalogue.EVENT_TYPES[type]
    return Event(tenant_id=tenant_id, event_id=new_event_id(), type=type, version=event_type.version,
                 line_id=line_id, data=catalogue.validate_data(type, data), occurred_at=at or now)


def event_emit(*, tenant_id: int, type: str, data: dict[str, Any], line_id: int | None = None,
               at: dt.datetime | None = None) -> Event:
    """Write the event (and its deliveries) in the caller's transaction; see the module docstring. Inside
    ``batching()`` the event is returned unsaved and written when the block ends."""
    pending = _events.pending
    if pending is None:
        return events_emit(tenant_id=tenant_id, type=type, items=[(line_id, data)], at=at)[0]
    event = _event(tenant_id=tenant_id, type=type, data=data, line_id=line_id, at=at, now=clock.now())
    pending.append(event)
    return event


def events_emit(*, tenant_id: int, type: str, items: list[tuple[int | None, dict[str, Any]]],
                at: dt.datetime | None = None) -> list[Event]:
    """``event_emit`` for many events of one type and tenant (``(line_id, data)`` each): a fixed number of
    queries whatever their number (usage alerts fire for many lines at once)."""
    now = clock.now()
    return _write([_event(tenant_id=tenant_id, type=type, data=data, line_id=line_id, at=at, now=now)
                   for line_id, data in items])


def _write(events: list[Event]) -> list[Event]:
    """Insert ``events`` (one statement) and a delivery for each endpoint that wants one (one look-up of
    the endpoints of their tenants; two more statements only if there is such an endpoint)."""
    if not events:
        return []
    now = clock.now()
    made = Event.objects.bulk_create(events)
    if any(e.pk is None for e in made):  # backends that do not return IDs from bulk_create
        made = list(Event.objects.filter(event_id__in=[e.event_id for e in made]).order_by("id"))
    tenants = {e.tenant_id for e in made}
    endpoints = list(WebhookEndpoint.objects.filter(tenant_id__in=tenants, enabled=True).order_by("id"))
    deliveries = [Delivery(tenant_id=event.tenant_id, endpoint=e, event=event, line_id=event.line_id,
                           next_attempt_at=now)
                  for event in made for e in endpoints if e.tenant_id == event.tenant_id and e.wants(event.type)]
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
        ids = list(Delivery.objects.filter(event__in=made).order_by("id").values_list("pk", flat=True))
        transaction.on_commit(lambda: _enqueue(ids))
    return made


def events_emit_select(*, tenant_id: int, type: str, rows_sql: str, params: list[Any], sample: dict[str, Any],
                       at: dt.datetime | None = None) -> int:
    """``events_emit`` from a query, set-wise (issue 13: a usage alert firing for many lines): one
    ``INSERT … SELECT … RETURNING`` of the events and one per subscribed endpoint of their deliveries, whatever
    their number, in the caller's transaction; the deliveries' first attempts are enqueued after commit.
    ``rows_sql`` (with ``params``) selects ``line_id``, ``data`` (JSON built by the database: jsonb on
    PostgreSQL, text on SQLite) and ``ord`` (the order the events are written in). The payload is not checked
    row by row: ``sample``, one payload of the same shape, is checked against the event's schema (a caller
    building a payload the schema refuses fails here, before writing). Returns how many events were written."""
    catalogue.validate_data(type, sample)
    event_type = catalogue.EVENT_TYPES[type]
    pg = connection.vendor == "postgresql"
    ops = connection.ops
    occurred = ops.adapt_datetimefield_value(at or clock.now())
    now = ops.adapt_datetimefield_value(clock.now())
    millis = int(time.time() * 1000)
    # new_event_id()'s form: evt_ + 12 hex digits of milliseconds + 14 random hex digits, per row.
    if pg:
        event_id = ("'evt_' || lpad(to_hex(CAST(%s AS BIGINT)), 12, '0') "
                    "|| substr(md5(random()::text || clock_timestamp()::text), 1, 14)")
        ts = "CAST(%s AS TIMESTAMPTZ)"
    else:
        event_id = "'evt_' || printf('%%012x', %s) || lower(hex(randomblob(7)))"
        ts = "%s"
    events, deliveries = Event._meta.db_table, Delivery._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {events} (tenant_id, event_id, type, version, line_id, data, occurred_at) "  # noqa: S608
            f"SELECT {_param(pg, 'BIGINT')}, {event_id}, {_param(pg, 'TEXT')}, {_param(pg, 'INTEGER')}, x.line_id, "
            f"x.data, {ts} FROM ({rows_sql}) x WHERE TRUE ORDER BY x.ord RETURNING id",
            [tenant_id, millis, type, event_type.version, occurred, *params])
        ids = [r[0] for r in cur.fetchall()]
        if not ids:
            return 0
        endpoints = [e for e in WebhookEndpoint.objects.filter(tenant_id=tenant_id, enabled=True).order_by("id")
                     if e.wants(type)]
        made: list[int] = []
        for endpoint in endpoints:
            cur.execute(
                f"INSERT INTO {deliveries} (tenant_id, endpoint_id, event_id, line_id, status, attempts, "  # noqa: S608
                f"next_attempt_at, created_at) SELECT e.tenant_id, {_param(pg, 'BIGINT')}, e.id, e.line_id, "
                f"{_param(pg, 'TEXT')}, 0, {ts}, {ts} FROM {events} e WHERE e.tenant_id = {_param(pg, 'BIGINT')} "
                f"AND e.type = {_param(pg, 'TEXT')} AND e.id >= %s AND e.id <= %s AND e.occurred_at = {ts} "
                f"ORDER BY e.id RETURNING id",
                [endpoint.pk, DeliveryStatus.PENDING, now, now, tenant_id, type, min(ids), max(ids), occurred])
            made += [r[0] for r in cur.fetchall()]
    if made:
        made.sort()
        transaction.on_commit(lambda: _enqueue(made))
    return len(ids)


def _param(pg: bool, sql_type: str) -> str:
    """A parameter typed for PostgreSQL (in a SELECT list its type is not inferred from the target column)."""
    return f"CAST(%s AS {sql_type})" if pg else "%s"


def _enqueue(ids: list[int]) -> None:
    """One task per ``BATCH`` deliveries (in ID order, so one line's events keep their order). With the
    database task queue, all of them in one transaction: one commit, not one per task (an alert firing for
    5,000 lines enqueues 100 tasks). If enqueueing fails, none is enqueued and the scheduler's sweep sends
    the deliveries (they are committed already)."""
    together = "django_tasks_db" in str(settings.TASKS["default"]["BACKEND"])
    try:
        with transaction.atomic() if together else nullcontext():
            for i in range(0, len(ids), BATCH):
                chunk = ids[i:i + BATCH]
                try:
                    webhook_deliver_batch_task.enqueue(delivery_ids=chunk)
                except Exception:
                    if together:
                        raise
                    log.exception("could not enqueue webhook deliveries %s…", chunk[0])  # the sweep sends them
    except Exception:
        log.exception("could not enqueue webhook deliveries %s…: the sweep sends them", ids[0])


# --- endpoints ---------------------------------------------------------------------------------------

def _event_types(values: list[str] | None) -> list[str]:
    chosen = sorted(set(values or []))
    if not chosen:
        raise DomainError(ErrorCode.INVALID_EVENT_TYPE, _("Choose at least one event."), field="event_types")
    unknown = [v for v in chosen if v not in catalogue.SUBSCRIBABLE]
    if unknown:
        raise DomainError(ErrorCode.INVALID_EVENT_TYPE, _("Unknown event type: %(types)s.")
                          % {"types": ", ".join(unknown)[:200]}, field="event_types")
    return chosen


def _url(url: str) -> str:
    url = (url or "").strip()
    if not url or len(url) > 500:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give a URL of up to 500 characters."), field="url")
    check_url(url)
    return url


def endpoint_get(*, tenant: Any, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(tenant=tenant, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."))
    return endpoint


def endpoint_list(*, tenant: Any) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(tenant=tenant).order_by("id"))


@transaction.atomic
def endpoint_create(*, tenant: Any, user: Any, url: str, event_types: list[str], description: str = "") -> \
        WebhookEndpoint:
    if WebhookEndpoint.objects.filter(tenant=tenant).count() >= MAX_ENDPOINTS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("An account can have at most %(n)d webhook endpoints.")
                          % {"n": MAX_ENDPOINTS})
    endpoint = WebhookEndpoint.objects.create(tenant=tenant, url=_url(url), event_types=_event_types(event_types),
                                              description=(description or "").strip()[:200], secret=new_secret())
    audit_record(action="webhook.create", tenant=tenant, user=user, target=endpoint,
                 changes={"url": [None, endpoint.url], "event_types": [None, endpoint.event_types]})
    return endpoint


@transaction.atomic
def endpoint_update(*, tenant: Any, user: Any, endpoint_id: int, url: str | None = None,
                    event_types: list[str] | None = None, description: str | None = None,
                    enabled: bool | None = None) -> WebhookEndpoint:
    endpoint = endpoint_get(tenant=tenant, endpoint_id=endpoint_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changes: dict[str, list[Any]] = {}
    if url is not None and url.strip() != endpoint.url:
        changes["url"] = [endpoint.url, _url(url)]
        endpoint.url = changes["url"][1]
    if event_types is not None:
        chosen = _event_types(event_types)
        if chosen != endpoint.event_types:
            changes["event_types"] = [endpoint.event_types, chosen]
            endpoint.event_types = chosen
    if description is not None and description.strip()[:200] != endpoint.description:
        changes["description"] = [endpoint.description, description.strip()[:200]]
        endpoint.description = changes["description"][1]
    if enabled is not None and enabled != endpoint.enabled:
        changes["enabled"] = [endpoint.enabled, enabled]
        endpoint.enabled = enabled
        if enabled:
            endpoint.disabled_reason = ""
            endpoint.consecutive_failures = 0
        else:
            endpoint.disabled_reason = "disabled by a user"
    if changes:
        endpoint.save()
        audit_record(action="webhook.update", tenant=tenant, user=user, target=endpoint, changes=changes)
    return endpoint


@transaction.atomic
def endpoint_delete(*, tenant: Any, user: Any, endpoint_id: int) -> None:
    endpoint = endpoint_get(tenant=tenant, endpoint_id=endpoint_id)
    audit_record(action="webhook.delete", tenant=tenant, user=user, target=endpoint,
                 changes={"url": [endpoint.url, None]})
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, tenant: Any, user: Any, endpoint_id: int,
                           overlap: dt.timedelta = DEFAULT_OVERLAP) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (next to the new) for ``overlap`` (0 to 7 days)."""
    if overlap < dt.timedelta(0) or overlap > MAX_OVERLAP:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The overlap must be between 0 and 168 hours."),
                          field="overlap_hours")
    endpoint = endpoint_get(tenant=tenant, endpoint_id=endpoint_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret if overlap > dt.timedelta(0) else ""
    endpoint.previous_secret_until = clock.now() + overlap if overlap > dt.timedelta(0) else None
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    audit_record(action="webhook.rotate_secret", tenant=tenant, user=user, target=endpoint,
                 changes={"previous_secret_until": [None, endpoint.previous_secret_until]})
    return endpoint


def endpoint_ping(*, tenant: Any, user: Any, endpoint_id: int) -> Delivery:
    """Send a ``webhook.test`` event to this endpoint now (also when it is disabled) and return its
    delivery with the attempt recorded."""
    endpoint = endpoint_get(tenant=tenant, endpoint_id=endpoint_id)
    with transaction.atomic():
        event = Event.objects.create(tenant=tenant, event_id=new_event_id(), type=catalogue.WEBHOOK_TEST,
                                     data=catalogue.validate_data(catalogue.WEBHOOK_TEST, {
                                         "endpoint_id": endpoint.pk, "message": "Test ping from Kaisen"}),
                                     occurred_at=clock.now())
        delivery = Delivery.objects.create(tenant=tenant, endpoint=endpoint, event=event, next_attempt_at=None)
    deliver(delivery.pk, manual=True)
    # A ping is one attempt, never retried.
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, finished_at=clock.now(), next_attempt_at=None)
    delivery.refresh_from_db()
    return delivery


def delivery_get(*, tenant: Any, delivery_id: int) -> Delivery:
    delivery = Delivery.objects.filter(tenant=tenant, pk=delivery_id).select_related("event", "endpoint").first()
    if delivery is None:
        raise NotFound(_("No such delivery."))
    return delivery


def delivery_redeliver(*, tenant: Any, user: Any, delivery_id: int) -> Delivery:
    """Send a delivery again now, by hand (same ``webhook-id``: the receiver sees the same event)."""
    delivery = delivery_get(tenant=tenant, delivery_id=delivery_id)
    audit_record(action="webhook.redeliver", tenant=tenant, user=user, target=delivery.endpoint,
                 changes={"event": [None, delivery.event.event_id]})
    deliver(delivery.pk, manual=True)
    delivery.refresh_from_db()
    return delivery
