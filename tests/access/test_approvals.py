"""Approval of destructive procedures (issue 5 §1): a request waits; another user with the right permission
approves (the order is submitted once, through order_submit) or rejects it; the requester cannot decide their
own request; everything is audited; another tenant's request is 404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from kaisen.access import services as access
from kaisen.access.models import ApprovalRequest
from kaisen.audit.models import AuditEvent
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.procedures.bulk import bulk_start
from kaisen.procedures.models import Order
from kaisen.procedures.services import order_submit
from tests.access.helpers import api, member
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)
END = {"end_date": "2026-12-31"}


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(TUESDAY_1030, tick=False):
        yield


@pytest.fixture
def team(tenant_a: TenantWorld) -> dict[str, Any]:
    """The tenant requires approval; a clerk may cancel lines; a manager may decide; another manager may
    decide but not cancel."""
    access.access_settings_update(actor=tenant_a.user, approval_required=True)
    access.role_create(actor=tenant_a.user, name="line clerk",
                       statements=[("allow", "Line:*"), ("allow", "Order:read"), ("allow", "Bulk:submit")])
    access.role_create(actor=tenant_a.user, name="approver only",
                       statements=[("allow", "Approval:decide"), ("allow", "Line:read")])
    return {"clerk": member(tenant_a, "line clerk", username="clerk_01"),
            "manager": member(tenant_a, "administrator", username="manager_01"),
            "weak": member(tenant_a, "approver only", username="weak_01")}


def _request(client: Any, line_id: int, key: str = "req-1") -> Any:
    return client.post(f"/api/v1/lines/{line_id}/orders", {"kind": "cancellation", "params": END,
                                                            "idempotency_key": key})


def test_request_waits_then_approval_submits_exactly_once(tenant_a: TenantWorld, team: dict[str, Any]) -> None:
    line = tenant_a.line
    clerk, manager = api(team["clerk"]), api(team["manager"])
    waiting = _request(clerk, line.pk)
    assert waiting.status_code == 202, waiting.content
    body = waiting.json()
    assert body["status"] == "pending" and body["order_id"] is None and body["requested_by"] == "clerk_01"
    assert not Order.objects.filter(line=line).exists()
    assert _request(clerk, line.pk).json()["id"] == body["id"], "the same key answers the same request"
    # The manager sees it in the queue; the clerk sees their own.
    assert [r["id"] for r in manager.get("/api/v1/approvals?status=pending").json()] == [body["id"]]
    assert [r["id"] for r in clerk.get("/api/v1/approvals").json()] == [body["id"]]

    approved = manager.post(f"/api/v1/approvals/{body['id']}/approve", {"note": "ok"})
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "manager_01"
    orders = list(Order.objects.filter(line=line))
    assert len(orders) == 1 and orders[0].kind == "cancellation" and orders[0].requested_by_id == team["clerk"].pk
    assert approved.json()["order_id"] == orders[0].pk

    again = manager.post(f"/api/v1/approvals/{body['id']}/approve", {})
    assert again.status_code == 409 and again.json()["code"] == "APPROVAL_NOT_PENDING"
    assert manager.post(f"/api/v1/approvals/{body['id']}/reject", {}).status_code == 409
    assert Order.objects.filter(line=line).count() == 1, "approved once, submitted once"
    actions = list(AuditEvent.objects.filter(tenant=tenant_a.tenant, action__startswith="approval.")
                   .values_list("action", flat=True))
    assert sorted(actions) == ["approval.approve", "approval.request"]


def test_requester_cannot_approve_their_own_request(tenant_a: TenantWorld, team: dict[str, Any]) -> None:
    access.user_roles_set(actor=tenant_a.user, user_id=team["clerk"].pk, roles=["line clerk", "approver only"])
    clerk = api(team["clerk"])
    req = _request(clerk, tenant_a.line.pk).json()
    own = clerk.post(f"/api/v1/approvals/{req['id']}/approve", {})
    assert own.status_code == 403 and own.json()["code"] == "PERMISSION_DENIED"
    assert ApprovalRequest.objects.get(pk=req["id"]).status == "pending"
    assert not Order.objects.filter(line=tenant_a.line).exists()


def test_reject_orders_nothing(tenant_a: TenantWorld, team: dict[str, Any]) -> None:
    req = _request(api(team["clerk"]), tenant_a.line.pk).json()
    rejected = api(team["manager"]).post(f"/api/v1/approvals/{req['id']}/reject", {"note": "not this one"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "not this one"
    assert not Order.objects.filter(line=tenant_a.line).exists()


def test_approver_needs_decide_and_the_procedures_action(tenant_a: TenantWorld, team: dict[str, Any]) -> None:
    req = _request(api(team["clerk"]), tenant_a.line.pk).json()
    weak = api(team["weak"]).post(f"/api/v1/approvals/{req['id']}/approve", {})
    assert weak.status_code == 403 and weak.json()["action"] == "Line:cancel"
    other_clerk = member(tenant_a, "line clerk", username="clerk_02")
    denied = api(other_clerk).post(f"/api/v1/approvals/{req['id']}/approve", {})
    assert denied.status_code == 403 and denied.json()["action"] == "Approval:decide"
    assert api(other_clerk).get(f"/api/v1/approvals/{req['id']}").status_code == 404, \
        "a user who can neither decide nor requested it does not see it"
    assert not Order.objects.filter(line=tenant_a.line).exists()


def test_withdraw_by_the_requester(tenant_a: TenantWorld, team: dict[str, Any]) -> None:
    req = _request(api(team["clerk"]), tenant_a.line.pk).json()
    assert api(team["manager"]).post(f"/api/v1/approvals/{req['id']}/withdraw").status_code == 403
    out = api(team["clerk"]).post(f"/api/v1/approvals/{req['id']}/withdraw")
    assert out.status_code == 200 and out.json()["status"] == "withdrawn"
    assert api(team["manager"]).post(f"/api/v1/approvals/{req['id']}/approve", {}).status_code == 409


def test_no_interface_bypasses_the_approval(tenant_a: TenantWorld, team: dict[str, Any]) -> None:
    """order_submit itself refuses (the service layer), and a bulk upload row is refused per row."""
    with pytest.raises(DomainError) as exc:
        order_submit(tenant=tenant_a.tenant, user=team["clerk"], line_id=tenant_a.line.pk, kind="cancellation",
                     params=END, idempotency_key="direct")
    assert exc.value.code == ErrorCode.APPROVAL_REQUIRED
    csv_bytes = f"line,end_date\r\n{tenant_a.line.msisdn},2026-12-31\r\n".encode()
    job, _created = bulk_start(tenant=tenant_a.tenant, user=team["clerk"], kind="cancellation",
                               csv_bytes=csv_bytes, filename="c.csv", dry_run=False)
    assert job.rows_failed == 1 and job.results[0]["code"] == "APPROVAL_REQUIRED"
    assert not Order.objects.filter(line=tenant_a.line).exists()
    # Suspension is not destructive: it goes through at once.
    ok = api(team["clerk"]).post(f"/api/v1/lines/{tenant_a.line.pk}/orders",
                                  {"kind": "suspend", "idempotency_key": "s-1"})
    assert ok.status_code == 201


def test_role_level_approval_and_root_is_exempt(tenant_a: TenantWorld) -> None:
    access.role_create(actor=tenant_a.user, name="careful", statements=[("allow", "Line:*")],
                       requires_approval=True)
    careful = member(tenant_a, "careful")
    free = member(tenant_a, "administrator")
    assert access.approval_needed(user=careful, kind="plan_change")
    assert access.approval_needed(user=careful, kind="mnp_reservation")
    assert not access.approval_needed(user=careful, kind="suspend")
    assert not access.approval_needed(user=free, kind="cancellation"), "the tenant does not require it"
    access.access_settings_update(actor=tenant_a.user, approval_required=True)
    assert access.approval_needed(user=free, kind="cancellation")
    assert not access.approval_needed(user=tenant_a.user, kind="cancellation"), "the root user can do everything"
    assert _request(tenant_a.api(), tenant_a.line.pk).status_code == 201


def test_other_tenants_approval_is_404(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    access.access_settings_update(actor=tenant_b.user, approval_required=True)
    b_member = member(tenant_b, "administrator")
    req = _request(api(b_member), tenant_b.line.pk).json()
    for path in (f"/api/v1/approvals/{req['id']}", f"/api/v1/approvals/{req['id']}/approve",
                 f"/api/v1/approvals/{req['id']}/reject"):
        response = tenant_a.api().get(path) if path.endswith(str(req["id"])) else tenant_a.api().post(path, {})
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert ApprovalRequest.objects.get(pk=req["id"]).status == "pending"
