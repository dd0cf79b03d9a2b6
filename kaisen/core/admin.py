"""The back office (T-3): the admin site's look, and the audit every admin write goes through."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kaisen.audit.services import audit_record

admin.site.site_header = _("Kaisen back office")
admin.site.site_title = _("Kaisen back office")
admin.site.index_title = _("Operator administration")
admin.site.site_url = "/"

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


class ReadOnlyAdminMixin:
    """Records that are written only by services (the audit log, API keys): look, never touch."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
