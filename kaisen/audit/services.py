from __future__ import annotations

from typing import Any

from django.db import models

from kaisen.audit.models import AuditEvent
from kaisen.core.middleware import client_ip, client_user_agent


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)


def audit_entry(
    *,
    action: str,
    tenant=None,
    user=None,
    actor: str | None = None,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    success: bool = True,
    ip_address: str | None = None,
    user_agent: str | None = None,
    reason: str = "",
) -> AuditEvent:
    """One audit entry, not saved yet: ``audit_record`` saves it at once, ``audit_write`` saves several
    with one ``INSERT`` (issue 11 §1: a step that records several entries pays for one statement)."""
    if actor is None:
        actor = user.audit_label if user is not None and getattr(user, "pk", None) else ""
    return AuditEvent(
        tenant=tenant,
        user=user if user is not None and getattr(user, "pk", None) else None,
        actor=actor[:100],
        ip_address=ip_address or client_ip(),
        user_agent=(client_user_agent() if user_agent is None else user_agent)[:300],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        changes=_jsonable(changes or {}),
        success=success,
        reason=(reason or "").strip()[:500],
    )


def audit_record(
    *,
    action: str,
    tenant=None,
    user=None,
    actor: str | None = None,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    success: bool = True,
    ip_address: str | None = None,
    user_agent: str | None = None,
    reason: str = "",
) -> AuditEvent:
    """Write one audit entry. ``changes`` maps a field to ``[before, after]``; ``reason`` is the user's
    own words for a destructive action (optional). Entries are append-only (see the model)."""
    entry = audit_entry(action=action, tenant=tenant, user=user, actor=actor, target=target, changes=changes,
                        success=success, ip_address=ip_address, user_agent=user_agent, reason=reason)
    entry.save(force_insert=True)
    return entry


def audit_write(entries: list[AuditEvent]) -> list[AuditEvent]:
    """Save entries made by ``audit_entry`` with one ``INSERT``, in their order."""
    if not entries:
        return []
    return AuditEvent.objects.bulk_create(entries)


def audit_export_record(*, user, channel: str, filters: dict[str, Any]) -> AuditEvent:
    """Exporting the audit log is itself recorded (who took a copy of the history, with which filter)."""
    used = {k: v for k, v in filters.items() if v not in (None, "")}
    return audit_record(action=f"audit.export.{channel}", tenant=user.tenant, user=user,
                        changes={"filters": [None, used]} if used else {})


def model_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
