"""Each catalogued change writes its event in its own transaction (issue 13 §1), and the OpenAPI document
publishes every event's payload schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from kaisen.access import services as access
from kaisen.accounts.services import api_key_create, api_key_revoke
from kaisen.api import api
from kaisen.billing.close import issue_due
from kaisen.billing.models import InvoiceStatus
from kaisen.core import clock
from kaisen.events import catalogue
from kaisen.events.models import Event
from kaisen.payments import services as payments
from kaisen.procedures.models import OrderStatus
from kaisen.procedures.services import order_cancel
from kaisen.statements.generate import statement_generate
from kaisen.statements.models import Statement
from tests.access.helpers import member
from tests.conftest import TenantWorld
from tests.payments.conftest import make_invoice
from tests.procedures.procedure_kit import complete, fail, jst, make_line, submit

pytestmark = pytest.mark.django_db


def events(world: TenantWorld, type_: str) -> list[dict[str, Any]]:
    return [e.data for e in Event.objects.filter(tenant=world.tenant, type=type_).order_by("id")]


def test_openapi_document_has_every_event_payload_and_webhook() -> None:
    doc = api.get_openapi_schema(path_prefix="/api/v1")
    schemas = doc["components"]["schemas"]
    for event in catalogue.EVENT_TYPES.values():
        assert event.schema.__name__ in schemas
        envelope = schemas[f"Event_{event.name.replace('.', '_')}_v{event.version}"]
        assert envelope["properties"]["type"]["const"] == event.name
        assert envelope["properties"]["data"]["$ref"].endswith(event.schema.__name__)
        assert event.name in doc["webhooks"]
    assert set(schemas["OrderEventData"]["required"]) >= {"order_id", "kind", "status", "line_id"}
    # The event schemas never replace one of the API's own components.
    assert "properties" in schemas["ErrorOut"] and "code" in schemas["ErrorOut"]["properties"]


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_order_accepted_completed_and_line_status_changed(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    order = submit(tenant_a, line, "suspend")
    [accepted] = events(tenant_a, catalogue.ORDER_ACCEPTED)
    assert accepted["order_id"] == order.pk and accepted["kind"] == "suspend" and accepted["line_id"] == line.pk
    complete(order)
    [done] = events(tenant_a, catalogue.ORDER_COMPLETED)
    assert done["status"] == OrderStatus.COMPLETED
    [changed] = events(tenant_a, catalogue.LINE_STATUS_CHANGED)
    assert (changed["from_status"], changed["to_status"], changed["order_id"]) == ("active", "suspended", order.pk)
    assert Event.objects.get(type=catalogue.LINE_STATUS_CHANGED).line_id == line.pk


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_order_failed_and_withdrawn(tenant_a: TenantWorld) -> None:
    failing = submit(tenant_a, make_line(tenant_a), "suspend")
    fail(failing, message="no such subscriber")
    [failed] = events(tenant_a, catalogue.ORDER_FAILED)
    assert failed["order_id"] == failing.pk and failed["error_message"] == "no such subscriber"
    assert events(tenant_a, catalogue.LINE_STATUS_CHANGED) == []
    later = submit(tenant_a, make_line(tenant_a), "cancellation", {"end_date": "2026-12-31"})
    order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=later.pk)
    [withdrawn] = events(tenant_a, catalogue.ORDER_WITHDRAWN)
    assert withdrawn["order_id"] == later.pk and withdrawn["status"] == OrderStatus.CANCELLED


def test_api_key_created_and_revoked(tenant_a: TenantWorld) -> None:
    new = api_key_create(user=tenant_a.user, name="ci")
    api_key_revoke(user=tenant_a.user, key_id=new.api_key.key_id)
    created = events(tenant_a, catalogue.APIKEY_CREATED)
    assert [c["name"] for c in created] == ["automation", "ci"]  # the fixture's key, then this one
    [revoked] = events(tenant_a, catalogue.APIKEY_REVOKED)
    assert revoked["key_id"] == new.api_key.key_id
    assert all("secret" not in str(e) for e in created)


def test_invoice_issued_when_its_issue_date_comes(tenant_a: TenantWorld) -> None:
    invoice = make_invoice(tenant_a.tenant, status=InvoiceStatus.FINAL)
    assert issue_due(today=invoice.issued_on - dt.timedelta(days=1)) == 0
    assert events(tenant_a, catalogue.INVOICE_ISSUED) == []
    assert issue_due(today=invoice.issued_on) == 1
    [issued] = events(tenant_a, catalogue.INVOICE_ISSUED)
    assert issued["number"] == invoice.number and issued["total"] == "11000.00" and issued["month"] == "2026-09"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.INVOICED


def test_payment_succeeded_and_failed(tenant_a: TenantWorld) -> None:
    payments.card_register(user=tenant_a.user, coverage="japan", number="4242424242424242", exp_month=12,
                           exp_year=2030, cvc="123")
    paid = make_invoice(tenant_a.tenant)
    payments.invoice_charge(invoice_id=paid.pk)
    [ok] = events(tenant_a, catalogue.PAYMENT_SUCCEEDED)
    assert ok["invoice_id"] == paid.pk and ok["amount"] == "11000.00" and ok["currency"] == "JPY"
    payments.card_register(user=tenant_a.user, coverage="japan", number="4000000000000002", exp_month=12,
                           exp_year=2030, cvc="123")
    declined = make_invoice(tenant_a.tenant, month=dt.date(2026, 10, 1))
    payments.invoice_charge(invoice_id=declined.pk)
    [bad] = events(tenant_a, catalogue.PAYMENT_FAILED)
    assert bad["invoice_id"] == declined.pk and bad["failure_code"] == "card_declined"


def test_statement_ready(tenant_a: TenantWorld) -> None:
    month = dt.date(clock.today_jst().year, clock.today_jst().month, 1)
    statement = Statement.objects.create(tenant=tenant_a.tenant, requested_by=tenant_a.user, kind="cdr",
                                         period=month, file_name="cdr.csv")
    assert statement_generate(statement.pk) == "done"
    [ready] = events(tenant_a, catalogue.STATEMENT_READY)
    assert ready["statement_id"] == statement.pk and ready["kind"] == "cdr"


@time_machine.travel(jst(2026, 11, 24, 10, 30), tick=False)
def test_approval_requested_and_decided(tenant_a: TenantWorld) -> None:
    access.access_settings_update(actor=tenant_a.user, approval_required=True)
    access.role_create(actor=tenant_a.user, name="line clerk", statements=[("allow", "Line:*")])
    clerk = member(tenant_a, "line clerk", username="clerk_01")
    manager = member(tenant_a, "administrator", username="manager_01")
    req = access.procedure_request(tenant=tenant_a.tenant, user=clerk, line_id=tenant_a.line.pk,
                                   kind="cancellation", params={"end_date": "2026-12-31"}, idempotency_key="r1")
    [requested] = events(tenant_a, catalogue.APPROVAL_REQUESTED)
    assert requested["approval_id"] == req.pk and requested["requested_by"] == "clerk_01"
    access.approval_decide(tenant=tenant_a.tenant, user=manager, approval_id=req.pk, approve=True)
    [decided] = events(tenant_a, catalogue.APPROVAL_DECIDED)
    assert decided["decided_by"] == "manager_01" and decided["decision"] == "approved"
    assert decided["order_id"] is not None
    assert len(events(tenant_a, catalogue.ORDER_ACCEPTED)) == 1


def test_a_batch_writes_its_events_at_the_end_with_one_insert(tenant_a: TenantWorld, tenant_b: TenantWorld,
                                                              django_assert_num_queries: Any) -> None:
    """``batching()`` (used by the order transactions, issue 11 §1): the events of the block, of any type and
    tenant, are written with one INSERT and one look-up of the endpoints; each delivery goes only to an
    endpoint of the event's tenant that wants its type; a block that raises writes nothing."""
    from django.db import transaction

    from kaisen.events.models import Delivery, WebhookEndpoint
    from kaisen.events.services import batching, event_emit

    hook = WebhookEndpoint.objects.create(tenant=tenant_a.tenant, url="https://hooks.example.com/a",
                                          event_types=[catalogue.APIKEY_CREATED], secret="s" * 32)
    WebhookEndpoint.objects.create(tenant=tenant_b.tenant, url="https://hooks.example.com/b",
                                   event_types=[catalogue.APIKEY_REVOKED], secret="t" * 32)

    before = Event.objects.count()  # the worlds' own API keys

    def mine(world: TenantWorld, type_: str) -> list[str]:
        return [e["key_id"] for e in events(world, type_) if e["key_id"] in ("k1", "k2", "k3", "k4")]

    def emit(world: TenantWorld, type_: str, key: str) -> None:
        event_emit(tenant_id=world.tenant.pk, type=type_, data={"key_id": key, "name": key, "user": "u"})

    with transaction.atomic(), batching():
        with django_assert_num_queries(0):
            emit(tenant_a, catalogue.APIKEY_CREATED, "k1")
            emit(tenant_a, catalogue.APIKEY_REVOKED, "k2")
            emit(tenant_b, catalogue.APIKEY_CREATED, "k3")
        assert Event.objects.count() == before
    assert mine(tenant_a, catalogue.APIKEY_CREATED) == ["k1"]
    assert mine(tenant_a, catalogue.APIKEY_REVOKED) == ["k2"]
    assert mine(tenant_b, catalogue.APIKEY_CREATED) == ["k3"]
    [delivery] = Delivery.objects.all()
    assert delivery.endpoint_id == hook.pk and delivery.event.data["key_id"] == "k1"

    with pytest.raises(RuntimeError), transaction.atomic(), batching():
        emit(tenant_a, catalogue.APIKEY_CREATED, "k4")
        raise RuntimeError("rolled back")
    assert Event.objects.count() == before + 3 and Delivery.objects.count() == 1


def test_a_batch_costs_one_insert_and_one_lookup(tenant_a: TenantWorld, django_assert_num_queries: Any) -> None:
    from django.db import transaction

    from kaisen.events.services import batching, event_emit

    before = Event.objects.count()  # the world's own API key
    # the savepoint of the atomic block, the INSERT of the three events, the endpoint look-up, the release
    with django_assert_num_queries(4, exact=True), transaction.atomic(), batching():
        for key in ("k1", "k2", "k3"):
            event_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED,
                       data={"key_id": key, "name": key, "user": "u"})
    assert Event.objects.count() == before + 3
