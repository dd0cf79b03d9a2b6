"""The catalogue of events (issue 13 §1): one typed list, each event with a versioned payload schema.

Every event a tenant can receive by webhook is named here with the pydantic schema of its ``data``. The
schemas are published in the OpenAPI document (``components.schemas`` and the top-level ``webhooks``
section, see ``openapi_components``), so integrators see exactly what each event carries. A payload schema
changes only by adding a new version: ``version`` is sent in every envelope.

The envelope (what a webhook receives as its JSON body)::

    {"id": "evt_…", "type": "order.completed", "version": 1, "timestamp": "2026-12-07T01:00:00Z",
     "tenant": "OP0123456789", "data": {…}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field


class OrderEventData(BaseModel):
    """A procedure order of a line (accepted, completed, failed, withdrawn)."""

    order_id: int = Field(description="The order number, as the pages and the API show it.")
    kind: str = Field(description="The procedure: suspend, resume, cancellation, plan_change, …")
    status: str = Field(description="The order's status after this event.")
    line_id: int
    msisdn: str | None = Field(default=None, description="The line's phone number, if it has one.")
    iccid: str = ""
    effective_date: str | None = Field(default=None, description="YYYY-MM-DD")
    error_message: str = ""


class LineStatusChangedData(BaseModel):
    line_id: int
    msisdn: str | None = None
    iccid: str = ""
    from_status: str
    to_status: str
    order_id: int | None = Field(default=None, description="The order that made the change, if any.")


class InvoiceIssuedData(BaseModel):
    invoice_id: int
    number: str
    month: str = Field(description="YYYY-MM")
    coverage: str
    total: str = Field(description="Decimal amount in the invoice currency, tax included.")
    currency: str
    due_on: str | None = None


class PaymentData(BaseModel):
    invoice_id: int
    invoice_number: str
    payment_id: int
    amount: str
    currency: str
    failure_code: str = ""


class StatementReadyData(BaseModel):
    statement_id: int
    kind: str
    rows: int
    size_bytes: int
    expires_at: str | None = None


class ApprovalRequestedData(BaseModel):
    approval_id: int
    kind: str
    line_id: int
    requested_by: str


class ApprovalDecidedData(BaseModel):
    approval_id: int
    kind: str
    line_id: int
    decision: str = Field(description="approved or rejected")
    decided_by: str
    order_id: int | None = None


class ApiKeyData(BaseModel):
    key_id: str
    name: str
    user: str


class UsageAlertFiredData(BaseModel):
    rule_id: int | None = Field(description="None for the account's budget.")
    rule_name: str
    condition: str
    threshold: str
    value: str = Field(description="The measured value that crossed the threshold.")
    period: str = Field(description="The period the rule fires once in: YYYY-MM, or YYYY-MM-DD for one day.")
    line_id: int | None = Field(default=None, description="None for a tenant-wide rule (a budget).")
    msisdn: str | None = None
    actions: list[str] = Field(default_factory=list)


class ShippedSim(BaseModel):
    line_id: int = Field(description="The new line (not activated yet).")
    iccid: str
    product_code: str


class SimShippedData(BaseModel):
    """A goods order was shipped: its SIMs are lines of the account, not activated yet."""

    goods_order_id: int = Field(description="The goods order's ID, as the API shows it.")
    number: str = Field(description="The order number (G…).")
    carrier_name: str = Field(description="The delivery company.")
    tracking_number: str
    shipped_on: str = Field(description="YYYY-MM-DD")
    sims: list[ShippedSim] = Field(default_factory=list, description="One entry per SIM in the parcel.")


class WebhookTestData(BaseModel):
    endpoint_id: int
    message: str


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    schema: type[BaseModel]
    label: Promise


ORDER_ACCEPTED = "order.accepted"
ORDER_COMPLETED = "order.completed"
ORDER_FAILED = "order.failed"
ORDER_WITHDRAWN = "order.withdrawn"
LINE_STATUS_CHANGED = "line.status_changed"
INVOICE_ISSUED = "invoice.issued"
PAYMENT_FAILED = "payment.failed"
PAYMENT_SUCCEEDED = "payment.succeeded"
STATEMENT_READY = "statement.ready"
APPROVAL_REQUESTED = "approval.requested"
APPROVAL_DECIDED = "approval.decided"
APIKEY_CREATED = "apikey.created"
APIKEY_REVOKED = "apikey.revoked"
USAGE_ALERT_FIRED = "usage_alert.fired"
SIM_SHIPPED = "sim.shipped"
WEBHOOK_TEST = "webhook.test"

EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(ORDER_ACCEPTED, 1, OrderEventData, _("Order accepted")),
        EventType(ORDER_COMPLETED, 1, OrderEventData, _("Order completed")),
        EventType(ORDER_FAILED, 1, OrderEventData, _("Order failed")),
        EventType(ORDER_WITHDRAWN, 1, OrderEventData, _("Order withdrawn")),
        EventType(LINE_STATUS_CHANGED, 1, LineStatusChangedData, _("Line status changed")),
        EventType(INVOICE_ISSUED, 1, InvoiceIssuedData, _("Invoice issued")),
        EventType(PAYMENT_FAILED, 1, PaymentData, _("Payment failed")),
        EventType(PAYMENT_SUCCEEDED, 1, PaymentData, _("Payment succeeded")),
        EventType(STATEMENT_READY, 1, StatementReadyData, _("Statement ready")),
        EventType(APPROVAL_REQUESTED, 1, ApprovalRequestedData, _("Approval requested")),
        EventType(APPROVAL_DECIDED, 1, ApprovalDecidedData, _("Approval decided")),
        EventType(APIKEY_CREATED, 1, ApiKeyData, _("API key created")),
        EventType(APIKEY_REVOKED, 1, ApiKeyData, _("API key revoked")),
        EventType(USAGE_ALERT_FIRED, 1, UsageAlertFiredData, _("Usage alert fired")),
        EventType(SIM_SHIPPED, 1, SimShippedData, _("SIM shipped")),
        EventType(WEBHOOK_TEST, 1, WebhookTestData, _("Test ping")),
    )
}
#: What an endpoint may subscribe to (the test ping is sent on request, to one endpoint, whatever it wants).
SUBSCRIBABLE: tuple[str, ...] = tuple(name for name in EVENT_TYPES if name != WEBHOOK_TEST)


def _component(name: str) -> str:
    return "Event_" + name.replace(".", "_") + f"_v{EVENT_TYPES[name].version}"


def envelope_schema(event: EventType) -> dict[str, Any]:
    data_ref = f"#/components/schemas/{event.schema.__name__}"
    return {
        "title": _component(event.name),
        "type": "object",
        "description": f"Webhook body of the event {event.name} (version {event.version}).",
        "required": ["id", "type", "version", "timestamp", "tenant", "data"],
        "properties": {
            "id": {"type": "string", "description": "The event's ID; also the webhook-id header (idempotency key)."},
            "type": {"type": "string", "const": event.name},
            "version": {"type": "integer", "const": event.version},
            "timestamp": {"type": "string", "format": "date-time"},
            "tenant": {"type": "string", "description": "The operator ID of the account."},
            "data": {"$ref": data_ref},
        },
    }


def openapi_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """(schemas, webhooks): the payload schemas and envelopes for ``components.schemas``, and one
    ``webhooks`` entry per event type (OpenAPI 3.1)."""
    schemas: dict[str, Any] = {}
    webhooks: dict[str, Any] = {}
    for event in EVENT_TYPES.values():
        body = event.schema.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in body.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[event.schema.__name__] = body
        schemas[_component(event.name)] = envelope_schema(event)
        webhooks[event.name] = {
            "post": {
                "summary": str(event.label),
                "description": "Signed per Standard Webhooks: headers webhook-id, webhook-timestamp, "
                               "webhook-signature.",
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{_component(event.name)}"}}}},
                "responses": {"2XX": {"description": "Received. Any other answer is retried."}},
            }
        }
    return schemas, webhooks


def validate_data(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked against the event's schema, as the JSON the envelope carries."""
    event = EVENT_TYPES[name]
    return event.schema.model_validate(data).model_dump(mode="json")
