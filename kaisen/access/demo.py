"""The demo's access setup (``kaisen demo``, issue 5 §1): ``tanaka_ops`` holds the built-in operations role;
the lines carry department tags; a custom role shows a department manager limited to one department."""

from __future__ import annotations

from typing import Any

from kaisen.access.models import ApprovalRequest, LineTag, LineTagging, Role, RoleAssignment
from kaisen.access.services import _changed, builtin_roles_ensure

#: (kind, name) of the demo's tags; lines alternate between the two departments.
DEPARTMENTS = ("営業部", "物流部")
OPERATIONS_USER = "tanaka_ops"


def demo_access_create(*, tenants: list[Any]) -> None:
    from kaisen.accounts.models import User
    from kaisen.audit.services import audit_record
    from kaisen.lines.models import Line

    builtin = builtin_roles_ensure()
    for tenant in tenants:
        ops = User.objects.filter(tenant=tenant, username=OPERATIONS_USER).first()
        if ops is not None:
            _ra, created = RoleAssignment.objects.get_or_create(tenant=tenant, user=ops, role=builtin["operations"])
            if created:
                audit_record(action="access.user.roles", tenant=tenant, actor="kaisen demo", target=ops,
                             changes={"roles": [[], ["Operations"]]})
        tags = [LineTag.objects.get_or_create(tenant=tenant, kind="department", name=name)[0] for name in DEPARTMENTS]
        role, _created = Role.objects.get_or_create(
            tenant=tenant, name="部門管理者（営業部）",
            defaults={"description": "営業部の回線だけを参照・一時停止・再開できます（デモ）"})
        if not role.statements.exists():
            role.statements.create(tenant=tenant, effect="allow", action="Line:read")
            role.statements.create(tenant=tenant, effect="allow", action="Line:suspend")
            role.statements.create(tenant=tenant, effect="allow", action="Line:resume")
            role.statements.create(tenant=tenant, effect="allow", action="Order:read")
        role.line_tags.set([tags[0]])
        ids = list(Line.objects.filter(tenant=tenant).order_by("id").values_list("id", flat=True))
        have = set(LineTagging.objects.filter(tenant=tenant).values_list("line_id", flat=True))
        LineTagging.objects.bulk_create(
            [LineTagging(tenant=tenant, line_id=line_id, tag=tags[i % 2]) for i, line_id in enumerate(ids)
             if line_id not in have], batch_size=2000)
    _changed()


def demo_access_delete(*, tenants: Any) -> None:
    """Before the orders and lines go: approval requests reference both; tags and roles stay for re-use."""
    ApprovalRequest.objects.filter(tenant__in=tenants).delete()
    LineTagging.objects.filter(tenant__in=tenants).delete()
