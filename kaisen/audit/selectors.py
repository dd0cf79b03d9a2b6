from __future__ import annotations

from django.db.models import QuerySet

from kaisen.audit.models import AuditEvent


def audit_event_list(*, tenant, action_prefix: str = "") -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(tenant=tenant).select_related("user")
    if action_prefix:
        qs = qs.filter(action__startswith=action_prefix)
    return qs.order_by("-at", "-id")
