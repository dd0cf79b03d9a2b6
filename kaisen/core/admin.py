"""The back office (T-3): the admin site's look, and a mixin for records nobody edits there.

The audit every admin write goes through is ``kaisen.audit.backoffice.AuditedAdminMixin``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

admin.site.site_header = _("Kaisen back office")
admin.site.site_title = _("Kaisen back office")
admin.site.index_title = _("Operator administration")
admin.site.site_url = "/"


class ReadOnlyAdminMixin:
    """Records that are written only by services (the audit log, API keys): look, never touch."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def format_amount(value: Any) -> str:
    """An amount or a count with thousands separators ("1,234,567", "1,234.50"); "-" for none (issue 14).

    Whole amounts (yen) show no decimals; others keep theirs. The same in every language: the back office
    shows yen the way invoices do."""
    if value is None or value == "":
        return "-"
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,}"


def amount_column(field: str, label: Any) -> Any:
    """A ``list_display`` column showing ``field`` through ``format_amount``, right-aligned, sortable."""

    @admin.display(description=label, ordering=field)
    def column(obj: Any) -> str:
        return format_amount(getattr(obj, field))

    column.__name__ = f"{field}_amount"
    return column


_AMOUNT_DISPLAYS: dict[tuple[Any, str], Any] = {}


def amount_display(model: Any, field: str) -> Any:
    """A read-only field of a change page showing ``field`` through ``format_amount``, labelled like the
    model field. One object per (model, field): the admin's fieldsets recognise read-only fields by identity."""
    key = (model, field)
    if key not in _AMOUNT_DISPLAYS:
        label = model._meta.get_field(field).verbose_name

        @admin.display(description=label)
        def display(obj: Any) -> str:
            return format_amount(getattr(obj, field))

        display.__name__ = f"{field}_amount"
        _AMOUNT_DISPLAYS[key] = display
    return _AMOUNT_DISPLAYS[key]


class AmountFieldsAdminMixin:
    """Change pages (and inlines) show the read-only ``amount_fields`` with thousands separators (issue 14).

    An amount field that is read-only on a page is swapped for its ``amount_display``; editable ones stay
    plain inputs (a number typed with commas would not parse). A subclass that decides its read-only fields
    itself overrides ``plain_readonly_fields``, not ``get_readonly_fields``."""

    amount_fields: tuple[str, ...] = ()
    model: Any

    def _swap(self, fields: Any, readonly: set[str]) -> list[Any]:
        return [amount_display(self.model, f) if isinstance(f, str) and f in readonly else f for f in fields]

    def plain_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return super().get_readonly_fields(request, obj)  # type: ignore[misc]

    def _readonly_amounts(self, request: HttpRequest, obj: Any) -> set[str]:
        raw = self.plain_readonly_fields(request, obj)
        if not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            return set(self.amount_fields)  # the whole page is read-only
        return {f for f in raw if isinstance(f, str) and f in self.amount_fields}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        raw = self.plain_readonly_fields(request, obj)
        swapped = self._swap(raw, self._readonly_amounts(request, obj))
        if not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            present = set(swapped)
            swapped += [amount_display(self.model, f) for f in self.amount_fields
                        if amount_display(self.model, f) not in present]
        return swapped

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = list(super().get_exclude(request, obj) or [])  # type: ignore[misc]
        return excluded + sorted(self._readonly_amounts(request, obj))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._swap(super().get_fields(request, obj), self._readonly_amounts(request, obj))  # type: ignore[misc]


# --- The task results of django-tasks' database backend, in the back office's language (issue 14) ----------
# The library's model and field names go through gettext (their Japanese is in our catalogue); its app name
# and two admin columns are plain English strings, so they are given translatable ones here.
apps.get_app_config("django_tasks_database").verbose_name = _("Background tasks")

#: The library's own msgids (django_tasks_db/models.py, django_tasks/base.py), listed so that makemessages keeps
#: them in our catalogue, where their Japanese is: gettext finds them there at runtime by the same msgid.
TASK_RESULT_MSGIDS = (
    _("Task Result"), _("Task Results"), _("status"), _("enqueued at"), _("started at"), _("finished at"),
    _("args kwargs"), _("priority"), _("task path"), _("worker id"), _("queue name"), _("backend name"),
    _("run after"), _("return value"), _("exception class path"), _("traceback"),
    pgettext_lazy("Task", "Ready"), pgettext_lazy("Task", "Running"), pgettext_lazy("Task", "Failed"),
    pgettext_lazy("Task", "Successful"),
)


class TaskResultAdmin(DBTaskResultAdmin):
    list_display = ("id", "task_label", "status", "enqueued_at", "started_at", "finished_at", "priority",
                    "queue_name")

    @admin.display(description=_("task"))
    def task_label(self, obj: DBTaskResult) -> str:
        return str(obj.task_name)

    @admin.display(description=_("traceback"))
    def formatted_traceback(self, obj: DBTaskResult) -> str:
        return super().formatted_traceback(obj)

    @admin.display(description=_("run after"))
    def display_run_after(self, obj: DBTaskResult) -> Any:
        return super().display_run_after(obj)


if admin.site.is_registered(DBTaskResult):
    admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, TaskResultAdmin)
