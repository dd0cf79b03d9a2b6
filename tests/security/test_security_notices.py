"""Issue 5 §9 / X-AUDIT: API-key changes send a notice with no secret in it, to the right address; the
reason of a destructive action (key revocation, order withdrawal) reaches the audit log from the web
page and the API; exporting the audit log is itself audited."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.test import Client

from kaisen.accounts.models import ApiToken
from kaisen.accounts.services import api_key_create, api_key_revoke, token_issue_for_api_key
from kaisen.audit.models import AuditEvent
from tests.conftest import ApiClient, TenantWorld
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class _Mail:
    def __init__(self, to: list[str], subject: str, body: str) -> None:
        self.to, self.subject, self.body = to, subject, body


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> list[_Mail]:
    """The notices as handed to the mail queue (``mail_after_commit``: sent only if the write commits)."""
    sent: list[_Mail] = []
    monkeypatch.setattr("kaisen.core.mail.mail_after_commit",
                        lambda **kw: sent.append(_Mail(kw["to"], kw["subject"], kw["body"])))
    return sent


def _all_text(message: _Mail) -> str:
    return "\n".join([*message.to, message.subject, message.body])


def test_api_key_notices_carry_no_secret_and_go_to_the_user(tenant_a: TenantWorld, outbox: list[_Mail]) -> None:
    user = UserFactory(tenant=tenant_a.tenant, is_root=True, email="owner@example.jp")
    new = api_key_create(user=user, name="nightly export")
    token = token_issue_for_api_key(key_id=new.api_key.key_id, secret=new.secret).token
    api_key_revoke(user=user, key_id=new.api_key.key_id, reason="laptop lost")
    assert [m.to for m in outbox] == [["owner@example.jp"], ["owner@example.jp"]]
    created, revoked = outbox
    assert new.api_key.key_id in created.body and "nightly export" in created.body
    assert new.api_key.key_id in revoked.body
    stored = {new.api_key.secret_hash, *ApiToken.objects.filter(api_key=new.api_key).values_list("token_hash",
                                                                                                 flat=True)}
    for message in outbox:
        text = _all_text(message)
        assert new.secret not in text and token not in text
        assert all(h not in text for h in stored)
        assert new.secret[:12] not in text  # not even a prefix of it


def test_api_key_notice_without_user_email_goes_to_the_tenant_address(tenant_a: TenantWorld,
                                                                       outbox: list[_Mail]) -> None:
    user = UserFactory(tenant=tenant_a.tenant, is_root=False, email="")
    from kaisen.access.services import user_statements_set

    # Creating API keys needs ApiKey:manage (issue 5 §6); a user without a role has no permission at all.
    user_statements_set(actor=tenant_a.user, user_id=user.pk, statements=[("allow", "ApiKey:manage")])
    new = api_key_create(user=user, name="no address")
    assert outbox[-1].to == [tenant_a.tenant.notification_email]
    assert new.secret not in _all_text(outbox[-1])


def test_notice_is_queued_only_on_commit(tenant_a: TenantWorld, django_capture_on_commit_callbacks: Any) -> None:
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(RuntimeError), \
            transaction.atomic():
        api_key_create(user=tenant_a.user, name="rolled back")
        raise RuntimeError
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api_key_create(user=tenant_a.user, name="kept")
    assert len(callbacks) == 1


def test_revoke_reason_from_web_and_api_x_audit(tenant_a: TenantWorld) -> None:
    web_key = api_key_create(user=tenant_a.user, name="web").api_key
    api_key = api_key_create(user=tenant_a.user, name="api").api_key
    client = Client()
    client.force_login(tenant_a.user)
    page = client.get(f"/account/api-keys/{web_key.key_id}/revoke/")
    assert page.status_code == 200 and 'name="reason"' in page.content.decode()
    response = client.post(f"/account/api-keys/{web_key.key_id}/revoke/", {"reason": "退職者のキー"})
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action="apikey.revoke", target_id=str(web_key.pk)).get()
    assert event.reason == "退職者のキー"
    response = tenant_a.api().delete(f"/api/v1/api-keys/{api_key.key_id}?reason=rotated")
    assert response.status_code == 200
    assert AuditEvent.objects.get(action="apikey.revoke", target_id=str(api_key.pk)).reason == "rotated"
    too_long = api_key_create(user=tenant_a.user, name="x").api_key
    assert tenant_a.api().delete(f"/api/v1/api-keys/{too_long.key_id}?reason={'x' * 501}").status_code == 422


def test_order_withdrawal_reason_from_api_x_audit(tenant_a: TenantWorld) -> None:
    from tests.procedures.procedure_kit import jst, make_line, submit

    with time_machine.travel(jst(2026, 11, 24, 12, 0), tick=False):
        order = submit(tenant_a, make_line(tenant_a), "cancellation")
        new = api_key_create(user=tenant_a.user, name="now")
        token = token_issue_for_api_key(key_id=new.api_key.key_id, secret=new.secret).token
        response = ApiClient(token, Client()).post(f"/api/v1/orders/{order.pk}/cancel?reason=keep%20the%20line")
        assert response.status_code == 200, response.content
    event = AuditEvent.objects.filter(action="order.cancelled", target_id=str(order.pk)).get()
    assert event.reason == "keep the line"
    assert event.changes["status"][1] == "cancelled"


def test_order_withdrawal_reason_from_web_x_audit(tenant_a: TenantWorld) -> None:
    from tests.procedures.procedure_kit import jst, make_line, submit

    client = Client()
    client.force_login(tenant_a.user)
    with time_machine.travel(jst(2026, 11, 24, 12, 0), tick=False):
        order = submit(tenant_a, make_line(tenant_a), "cancellation")
        page = client.get(f"/procedures/orders/{order.pk}/cancel/")
        assert 'name="reason"' in page.content.decode()
        response = client.post(f"/procedures/orders/{order.pk}/cancel/", {"reason": "mistake"})
        assert response.status_code == 302, response.content
    assert AuditEvent.objects.get(action="order.cancelled", target_id=str(order.pk)).reason == "mistake"


def test_audit_export_is_itself_audited_x_audit(tenant_a: TenantWorld) -> None:
    client = Client()
    client.force_login(tenant_a.user)
    b"".join(client.get("/audit/export.csv", {"action": "apikey."}).streaming_content)
    web = AuditEvent.objects.filter(action="audit.export.web").get()
    assert web.user == tenant_a.user and web.changes["filters"][1] == {"action_prefix": "apikey."}
    tenant_a.api().get("/api/v1/audit/export", {"family": "auth"}).getvalue()
    api = AuditEvent.objects.filter(action="audit.export.api").get()
    assert api.changes["filters"][1]["family"] == "auth"
