"""The audit trail (X-AUDIT): every write service leaves an entry with tenant, user, IP and what changed."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from kaisen.accounts.services import api_key_create, api_key_revoke, user_create
from kaisen.audit.models import AuditEvent
from kaisen.core.middleware import RequestContextMiddleware
from kaisen.lines.services import line_register
from kaisen.tenancy.services import tenant_create
from tests.conftest import TenantWorld
from tests.factories import PlanFactory, TenantFactory, UserFactory, make_iccid, make_msisdn

pytestmark = pytest.mark.django_db


def _in_request(ip: str, call):  # type: ignore[no-untyped-def]
    """Run ``call`` the way a view does: inside the middleware that records the client address."""
    result = {}

    def view(request):  # type: ignore[no-untyped-def]
        result["value"] = call()
        return "ok"

    RequestContextMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR=ip))  # type: ignore[arg-type]
    return result["value"]


def _latest(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


def test_tenant_create_is_audited_x_audit() -> None:
    staff = UserFactory(tenant=None, is_staff=True, username="staff_admin")
    tenant = _in_request("192.0.2.10", lambda: tenant_create(
        legal_name="株式会社監査", contract_code="AUD-1", contact_email="a@example.jp",
        notification_email="n@example.jp", actor=staff))
    event = _latest("tenant.create")
    assert (event.tenant, event.user, event.ip_address) == (tenant, staff, "192.0.2.10")
    assert event.changes["public_id"] == [None, tenant.public_id]
    assert event.target_id == str(tenant.pk)
    assert event.success is True
    assert event.actor == "staff:staff_admin"


def test_user_create_is_audited_x_audit(tenant_a: TenantWorld) -> None:
    user = _in_request("198.51.100.7", lambda: user_create(
        tenant=tenant_a.tenant, username="new_member", password="x-Long-password-1", actor=tenant_a.user))
    event = _latest("user.create")
    assert (event.tenant, event.user, event.ip_address) == (tenant_a.tenant, tenant_a.user, "198.51.100.7")
    assert event.changes["username"] == [None, "new_member"]
    assert event.target_id == str(user.pk)
    assert "x-Long-password-1" not in str(event.changes)


def test_line_register_is_audited_x_audit(tenant_a: TenantWorld) -> None:
    plan = PlanFactory()
    iccid, number = make_iccid(31_337), make_msisdn(31_337)
    line = _in_request("203.0.113.5", lambda: line_register(
        tenant=tenant_a.tenant, iccid=iccid, plan=plan, sim_type="data", sim_size="nano", msisdn=number,
        status="active", actor=tenant_a.user))
    event = _latest("line.register")
    assert (event.tenant, event.user, event.ip_address) == (tenant_a.tenant, tenant_a.user, "203.0.113.5")
    assert event.changes["iccid"] == [None, iccid]
    assert event.changes["msisdn"] == [None, number]
    assert event.target_id == str(line.pk)


def test_line_register_validates_input_m_dl_4(tenant_a: TenantWorld) -> None:
    from kaisen.core.errors import DomainError, ErrorCode

    plan = PlanFactory()
    good = make_iccid(1)
    with pytest.raises(DomainError) as bad_iccid:
        line_register(tenant=tenant_a.tenant, iccid=good[:-1] + str((int(good[-1]) + 1) % 10), plan=plan,
                      sim_type="data", sim_size="nano")
    assert bad_iccid.value.code == ErrorCode.INVALID_ICCID
    with pytest.raises(DomainError) as bad_number:
        line_register(tenant=tenant_a.tenant, iccid=good, plan=plan, sim_type="data", sim_size="nano",
                      msisdn="03-1234-5678", status="active")
    assert bad_number.value.code == ErrorCode.INVALID_PHONE_NUMBER
    with pytest.raises(DomainError) as no_number:
        line_register(tenant=tenant_a.tenant, iccid=good, plan=plan, sim_type="data", sim_size="nano",
                      status="active")
    assert no_number.value.field == "msisdn"
    line_register(tenant=tenant_a.tenant, iccid=good, plan=plan, sim_type="data", sim_size="nano")
    with pytest.raises(DomainError) as duplicate:
        line_register(tenant=tenant_a.tenant, iccid=good, plan=plan, sim_type="data", sim_size="nano")
    assert duplicate.value.code == ErrorCode.DUPLICATE


def test_api_key_create_and_revoke_are_audited_x_audit(tenant_a: TenantWorld) -> None:
    new = _in_request("192.0.2.44", lambda: api_key_create(user=tenant_a.user, name="billing export"))
    created = _latest("apikey.create")
    assert (created.tenant, created.user, created.ip_address) == (tenant_a.tenant, tenant_a.user, "192.0.2.44")
    assert created.changes["key_id"] == [None, new.api_key.key_id]
    assert new.secret not in str(created.changes)
    _in_request("192.0.2.45", lambda: api_key_revoke(user=tenant_a.user, key_id=new.api_key.key_id))
    revoked = _latest("apikey.revoke")
    assert (revoked.tenant, revoked.user, revoked.ip_address) == (tenant_a.tenant, tenant_a.user, "192.0.2.45")
    assert revoked.changes["revoked_at"][0] is None
    assert revoked.changes["revoked_at"][1]
    count = AuditEvent.objects.filter(action="apikey.revoke").count()
    api_key_revoke(user=tenant_a.user, key_id=new.api_key.key_id)  # revoking twice changes nothing
    assert AuditEvent.objects.filter(action="apikey.revoke").count() == count


def test_api_writes_record_the_client_ip_x_audit(tenant_a: TenantWorld) -> None:
    response = tenant_a.api().post("/api/v1/api-keys", {"name": "from the api"})
    assert response.status_code == 201
    event = _latest("apikey.create")
    assert event.ip_address == "127.0.0.1"
    assert event.user == tenant_a.user


def test_cannot_revoke_another_tenants_key_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    from kaisen.core.errors import NotFound

    with pytest.raises(NotFound):
        api_key_revoke(user=tenant_a.user, key_id=tenant_b.api_key.key_id)
    tenant_b.api_key.refresh_from_db()
    assert tenant_b.api_key.revoked_at is None


def test_audit_list_selector_is_tenant_scoped_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    from kaisen.audit.selectors import audit_event_list

    events = list(audit_event_list(tenant=tenant_a.tenant))
    assert events
    assert all(e.tenant_id == tenant_a.tenant.pk for e in events)
    assert TenantFactory() is not None
