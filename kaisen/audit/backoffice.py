"""The back office (T-3): every create, update and delete made in the admin site is written to the audit log.

The admin site's look is ``kaisen.core.admin``; this mixin lives with the audit log it writes to, so that core
imports nothing above it.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from kaisen.audit.services import audit_record

#: Field values never copied into the audit log, only the fact that they changed.
SECRET_FIELDS = frozenset({"password", "secret_hash", "token_hash"})
HIDDEN = "(hidden)"


def _value(obj: models.Model, field: models.Field) -> Any:
    value = field.value_from_object(obj)
    return HIDDEN if field.name in SECRET_FIELDS and value else value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The concrete field values of ``obj`` (foreign keys as IDs), secrets masked, timestamps left out."""
    out = {}
    for field in obj._meta.concrete_fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) or field.primary_key:
            continue
        out[field.name] = _value(obj, field)
    return out


class AuditedAdminMixin:
    """Every create, update and delete made in the back office writes ``admin.<model>.<verb>`` to the audit log."""

    def audit_tenant(self, obj: models.Model) -> Any:
        return getattr(obj, "tenant", None)

    def audit(self, request: HttpRequest, obj: models.Model, verb: str, changes: dict[str, Any]) -> None:
        audit_record(action=f"admin.{obj._meta.model_name}.{verb}", tenant=self.audit_tenant(obj),
                     user=request.user, target=obj, changes=changes)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change and obj.pk else {}
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        after = snapshot(obj)
        if change:
            changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
            for name, value in changes.items():
                if name in SECRET_FIELDS:
                    changes[name] = [HIDDEN, HIDDEN] if value[1] else value
        else:
            changes = {k: [None, v] for k, v in after.items() if v not in (None, "", {}, [])}
        # Many-to-many fields (staff groups and permissions) are saved after the object itself.
        for name in getattr(form, "changed_data", []):
            field = obj._meta.get_field(name) if name in {f.name for f in obj._meta.many_to_many} else None
            if field is not None:
                old = sorted(str(o) for o in (form.initial.get(name) or []))
                new = sorted(str(o) for o in form.cleaned_data.get(name) or [])
                changes[name] = [old, new]
        self.audit(request, obj, "update" if change else "create", changes)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        # The admin's delete view runs in one transaction: the entry and the deletion commit together.
        self.audit(request, obj, "delete", {k: [v, None] for k, v in snapshot(obj).items()})
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
