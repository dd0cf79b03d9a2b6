from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from kaisen.audit.models import AuditEvent
from kaisen.core.clock import JST


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=JST)


def audit_event_list(
    *,
    tenant,
    action_prefix: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    user_id: int | None = None,
    success: bool | None = None,
) -> QuerySet[AuditEvent]:
    """The tenant's audit entries, newest first. Dates are Japan-time days, both ends included (T-4)."""
    qs = AuditEvent.objects.filter(tenant=tenant).select_related("user")
    if action_prefix:
        qs = qs.filter(action__startswith=action_prefix)
    if date_from is not None:
        qs = qs.filter(at__gte=_start_of(date_from))
    if date_to is not None:
        qs = qs.filter(at__lt=_start_of(date_to + dt.timedelta(days=1)))
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if success is not None:
        qs = qs.filter(success=success)
    return qs.order_by("-at", "-id")
