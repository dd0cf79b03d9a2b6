"""X-AUDIT: the application cannot edit or delete audit entries — and neither can raw SQL, because the
database itself refuses UPDATE and DELETE on the table (triggers from kaisen/audit/migrations/0003)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from kaisen.audit.models import AuditEvent, AuditImmutable
from kaisen.audit.services import audit_record
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db


def _event(tenant_a: TenantWorld) -> AuditEvent:
    return audit_record(action="test.entry", tenant=tenant_a.tenant, user=tenant_a.user, reason="because")


def test_model_refuses_save_and_delete_x_audit(tenant_a: TenantWorld) -> None:
    event = _event(tenant_a)
    event.action = "test.changed"
    with pytest.raises(AuditImmutable):
        event.save()
    with pytest.raises(AuditImmutable):
        event.delete()
    event.refresh_from_db()
    assert event.action == "test.entry"


def test_orm_queryset_update_and_delete_rejected_by_database_x_audit(tenant_a: TenantWorld) -> None:
    event = _event(tenant_a)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all()._raw_delete(connection.alias)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.entry"


@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
    "UPDATE audit_auditevent SET success = NOT success, reason = '' WHERE id = %s",
    "DELETE FROM audit_auditevent WHERE id = %s",
])
def test_raw_sql_rejected_by_database_x_audit(tenant_a: TenantWorld, sql: str) -> None:
    event = _event(tenant_a)
    with pytest.raises(DatabaseError) as err, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, [event.pk])
    assert "append-only" in str(err.value)
    again = AuditEvent.objects.get(pk=event.pk)
    assert (again.action, again.success, again.reason) == ("test.entry", True, "because")


def test_deleting_a_user_or_tenant_with_history_is_refused_x_audit(tenant_a: TenantWorld) -> None:
    from django.db.models import ProtectedError

    _event(tenant_a)
    with pytest.raises(ProtectedError), transaction.atomic():
        tenant_a.user.delete()
    assert AuditEvent.objects.filter(user=tenant_a.user).exists()


def test_no_code_path_updates_or_deletes_audit_rows_x_audit() -> None:
    """A source sweep: nothing in kaisen/ calls update()/delete() on audit events."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "kaisen"
    pattern = re.compile(r"AuditEvent\.objects[^\n]*\.(update|delete|bulk_update|_raw_delete)\(|audit_events[^\n]*\."
                         r"(update|delete)\(")
    offenders = [f"{p}:{n}" for p in root.rglob("*.py") if "migrations" not in p.parts
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_demo_reset_keeps_the_audit_trail_x_audit() -> None:
    import datetime as dt

    from kaisen.demo import TENANTS, demo_create
    from kaisen.tenancy.models import Tenant

    demo_create(lines=30, seed=3, today=dt.date(2026, 11, 22))
    tenant = Tenant.objects.get(public_id=TENANTS[0]["public_id"])
    before = set(AuditEvent.objects.filter(tenant=tenant).values_list("id", flat=True))
    demo_create(lines=30, seed=3, today=dt.date(2026, 11, 22), reset=True)
    after = set(AuditEvent.objects.filter(tenant=tenant).values_list("id", flat=True))
    assert before < after
    assert Tenant.objects.get(public_id=TENANTS[0]["public_id"]).pk == tenant.pk
    assert AuditEvent.objects.filter(tenant=tenant, action="demo.reset").count() == 1
