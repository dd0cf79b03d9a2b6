"""S-ACC-5: account deletion only when every line is cancelled, no procedure is open, every invoice is settled
(and no other service is applied); confirmed with the operator ID and the password; irreversible: the tenant
is deactivated, every user, session, API key and token ends, logins are refused; nothing is removed.
Also: deactivating a user ends their sessions and tokens (issue 5 §2, §5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from kaisen.account.services import account_delete
from kaisen.accounts.models import ApiKey, ApiToken, User
from kaisen.accounts.services import user_deactivate
from kaisen.audit.models import AuditEvent
from kaisen.billing.models import Invoice, InvoiceStatus
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import Line, LineStatus
from kaisen.tenancy.models import ContractService, Tenant
from tests.conftest import TenantWorld
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _cancel_all(world: TenantWorld) -> None:
    Line.objects.filter(tenant=world.tenant).update(status=LineStatus.CANCELLED)


def _delete(world: TenantWorld, **kw: str) -> Tenant:
    return account_delete(actor=world.user, operator_id=kw.get("operator_id", world.tenant.public_id),
                          password=kw.get("password", PASSWORD))


def _refused(world: TenantWorld) -> dict:
    with pytest.raises(DomainError) as exc:
        _delete(world)
    assert exc.value.code == ErrorCode.ACCOUNT_NOT_DELETABLE
    world.tenant.refresh_from_db()
    assert world.tenant.is_active and world.tenant.deleted_at is None
    return exc.value.details


def test_deletion_with_an_open_line_is_refused_s_acc_5(tenant_a: TenantWorld) -> None:
    Line.objects.filter(pk__in=[x.pk for x in tenant_a.lines[1:]]).update(status=LineStatus.CANCELLED)
    details = _refused(tenant_a)
    assert details["lines_not_cancelled"] == {"active": 1}
    page = Client()
    page.force_login(tenant_a.user)
    html = page.get(reverse("account:delete")).content.decode()
    assert 'name="password"' not in html  # no confirmation form while something blocks


def test_deletion_with_an_unpaid_invoice_is_refused_s_acc_5(tenant_a: TenantWorld) -> None:
    _cancel_all(tenant_a)
    Invoice.objects.create(tenant=tenant_a.tenant, month=dt.date(2026, 9, 1), status=InvoiceStatus.PAID,
                           total=Decimal(1000))
    Invoice.objects.create(tenant=tenant_a.tenant, month=dt.date(2026, 11, 1), status=InvoiceStatus.ACCUMULATING,
                           total=Decimal(0))  # an empty open month does not block
    unpaid = Invoice.objects.create(tenant=tenant_a.tenant, month=dt.date(2026, 10, 1),
                                    status=InvoiceStatus.INVOICED, total=Decimal(5500))
    details = _refused(tenant_a)
    assert [i["month"] for i in details["unsettled_invoices"]] == ["2026-10"]
    unpaid.status = InvoiceStatus.PAID
    unpaid.save()
    Invoice.objects.filter(month=dt.date(2026, 11, 1)).update(total=Decimal(330))  # charges still accumulating
    assert [i["status"] for i in _refused(tenant_a)["unsettled_invoices"]] == ["accumulating"]


def test_deletion_with_an_open_order_or_an_applied_service_is_refused_s_acc_5(tenant_a: TenantWorld) -> None:
    from django.utils import timezone

    from kaisen.procedures.models import Order

    _cancel_all(tenant_a)
    now = timezone.now()
    order = Order.objects.create(tenant=tenant_a.tenant, line=tenant_a.line, kind="cancellation", params={},
                                 status="scheduled", idempotency_key="k", params_hash="h", effective_date=now.date(),
                                 due_at=now)
    assert _refused(tenant_a)["open_orders"] == 1
    order.status = "completed"
    order.save()
    ContractService.objects.create(tenant=tenant_a.tenant, name="一括転送サービス", applied=True)
    assert _refused(tenant_a)["services_applied"] == ["一括転送サービス"]


def test_a_wrong_confirmation_is_refused_s_acc_5(tenant_a: TenantWorld) -> None:
    _cancel_all(tenant_a)
    for kw in ({"operator_id": "OP0000000000"}, {"password": "not-my-password"}):
        with pytest.raises(DomainError) as exc:
            _delete(tenant_a, **kw)
        assert exc.value.code == ErrorCode.DELETION_CONFIRMATION_INVALID
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.is_active
    assert AuditEvent.objects.filter(tenant=tenant_a.tenant, action="account.delete", success=False).count() == 2


def test_only_the_root_user_deletes_s_acc_5(tenant_a: TenantWorld) -> None:
    _cancel_all(tenant_a)
    clerk = UserFactory(tenant=tenant_a.tenant, is_root=False)
    with pytest.raises(DomainError) as exc:
        account_delete(actor=clerk, operator_id=tenant_a.tenant.public_id, password=PASSWORD)
    assert exc.value.code == ErrorCode.PERMISSION_DENIED


def test_deletion_ends_sessions_tokens_and_refuses_login_keeps_data_s_acc_5(tenant_a: TenantWorld,
                                                                             mails: list) -> None:
    _cancel_all(tenant_a)
    root, tenant = tenant_a.user, tenant_a.tenant
    root.email = "owner@example.co.jp"
    root.save()
    clerk = UserFactory(tenant=tenant, is_root=False)
    invoice = Invoice.objects.create(tenant=tenant, month=dt.date(2026, 9, 1), status=InvoiceStatus.PAID,
                                     total=Decimal(1000))
    other_session, clerk_session, web = Client(), Client(), Client()
    for client, user in ((other_session, root), (clerk_session, clerk), (web, root)):
        r = client.post(reverse("accounts:login"), {"operator_id": tenant.public_id, "username": user.username,
                                                    "password": PASSWORD})
        assert r.status_code == 302
    assert other_session.get(reverse("core:home")).status_code == 200
    page = web.post(reverse("account:delete"), {"operator_id": tenant.public_id.lower(), "password": PASSWORD})
    assert page.status_code == 200 and tenant.public_id in page.content.decode()

    tenant.refresh_from_db()
    assert not tenant.is_active and tenant.deleted_at is not None
    assert not User.objects.filter(tenant=tenant, is_active=True).exists()
    assert not ApiToken.objects.filter(tenant=tenant, revoked_at__isnull=True).exists()
    assert not ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).exists()
    for client in (other_session, clerk_session, web):  # every session ended
        assert client.get(reverse("core:home")).status_code == 302
    assert tenant_a.api().get("/api/v1/me").status_code == 401  # the token ended
    again = Client().post(reverse("accounts:login"), {"operator_id": tenant.public_id, "username": root.username,
                                                      "password": PASSWORD})
    assert again.status_code == 401
    by_email = Client().post(reverse("accounts:login"), {"mode": "root", "email": root.email, "password": PASSWORD})
    assert by_email.status_code == 401
    by_key = Client().post("/api/v1/auth", {"key_id": tenant_a.api_key.key_id, "secret": tenant_a.api_secret},
                           content_type="application/json")
    assert by_key.status_code == 401
    # Nothing removed: invoices (kept 7 years), lines and the audit trail stay.
    assert Invoice.objects.filter(pk=invoice.pk).exists()
    assert Line.objects.filter(tenant=tenant).count() == len(tenant_a.lines)
    assert AuditEvent.objects.filter(tenant=tenant, action="account.delete", success=True).exists()
    assert any(tenant.public_id in m["body"] for m in mails)


def test_deletion_through_the_api_s_acc_5(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    check = api.get("/api/v1/account/deletion").json()
    assert check["deletable"] is False and check["blockers"]["lines_not_cancelled"] == {"active": 3}
    refused = api.post("/api/v1/account/deletion", {"operator_id": tenant_a.tenant.public_id, "password": PASSWORD})
    assert refused.status_code == 409 and refused.json()["code"] == "ACCOUNT_NOT_DELETABLE"
    _cancel_all(tenant_a)
    assert api.get("/api/v1/account/deletion").json()["deletable"] is True
    done = api.post("/api/v1/account/deletion", {"operator_id": tenant_a.tenant.public_id, "password": PASSWORD})
    assert done.status_code == 200 and done.json()["operator_id"] == tenant_a.tenant.public_id
    assert api.get("/api/v1/me").status_code == 401


def test_deactivating_a_user_ends_their_sessions_and_tokens(tenant_a: TenantWorld) -> None:
    """The known gap (issue 5 §2, §5): a deactivated user keeps no session and no working token."""
    from kaisen.accounts.services import token_issue_for_password

    clerk = UserFactory(tenant=tenant_a.tenant, is_root=False)
    session = Client()
    login = session.post(reverse("accounts:login"), {"operator_id": tenant_a.tenant.public_id,
                                                     "username": clerk.username, "password": PASSWORD})
    assert login.status_code == 302
    assert session.get(reverse("core:home")).status_code == 200
    token = token_issue_for_password(request=None, operator_id=tenant_a.tenant.public_id, username=clerk.username,
                                     password=PASSWORD).token
    bearer = {"Authorization": f"Bearer {token}"}
    assert Client().get("/api/v1/me", headers=bearer).status_code == 200
    user_deactivate(actor=tenant_a.user, user_id=clerk.pk)
    assert session.get(reverse("core:home")).status_code == 302
    assert Client().get("/api/v1/me", headers=bearer).status_code == 401
    assert not ApiToken.objects.filter(user=clerk, revoked_at__isnull=True).exists()
    again = Client().post("/api/v1/auth", {"operator_id": tenant_a.tenant.public_id, "username": clerk.username,
                                           "password": PASSWORD}, content_type="application/json")
    assert again.status_code == 401  # and cannot log in again
