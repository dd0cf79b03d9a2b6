"""The back office of the operator controls (issue 15): every change is audited (``admin.<model>.<verb>``) and
bumps the controls version, so every process applies it within seconds."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kaisen.audit.backoffice import AuditedAdminMixin
from kaisen.controls import cache, services
from kaisen.controls import functions as fn
from kaisen.controls.models import (
    ClosedDay,
    MaintenanceWindow,
    Notice,
    OperatorSwitch,
    ReceptionHours,
    ServiceSwitch,
)
from kaisen.core.errors import DomainError


class BumpMixin(AuditedAdminMixin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if hasattr(obj, "created_by") and not obj.created_by:
            obj.created_by = str(getattr(request.user, "username", ""))[:100]
        super().save_model(request, obj, form, change)
        cache.bump()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        cache.bump()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        cache.bump()


class HistoryMixin:
    """A history of changes: rows are added, never edited or deleted (the newest in force decides)."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MaintenanceWindowForm(forms.ModelForm):
    functions = forms.MultipleChoiceField(label=_("functions"), choices=list(fn.WINDOW_FUNCTIONS.items()),
                                          widget=forms.CheckboxSelectMultiple)
    announce_from = forms.DateTimeField(label=_("announced from"), required=False,
                                        help_text=_("Empty: three days before the start."))

    class Meta:
        model = MaintenanceWindow
        fields = ("starts_at", "ends_at", "announce_from", "functions", "all_tenants", "tenants", "reads_allowed",
                  "reason_ja", "reason_en")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must be after the start."))
        elif ends and "ends_at" in self.changed_data and ends <= services.clock.now():
            self.add_error("ends_at", _("The window must end in the future."))
        if starts and not data.get("announce_from"):
            data["announce_from"] = starts - services.DEFAULT_ANNOUNCE
        if starts and data.get("announce_from") and data["announce_from"] > starts:
            self.add_error("announce_from", _("The announcement must start before the window."))
        if not data.get("all_tenants") and not data.get("tenants"):
            self.add_error("tenants", _("Choose the tenants, or tick all tenants."))
        return data


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(BumpMixin, admin.ModelAdmin):
    form = MaintenanceWindowForm
    list_display = ("id", "starts_at", "ends_at", "function_list", "all_tenants", "reads_allowed", "cancelled_at",
                    "reason_ja")
    list_filter = ("all_tenants", "reads_allowed")
    filter_horizontal = ("tenants",)
    actions = ("end_now",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A window that has ended or was cancelled is history: shown, not changed (as in the services)."""
        if obj is not None and (obj.cancelled_at is not None or obj.ends_at <= services.clock.now()):
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=_("functions"))
    def function_list(self, obj: MaintenanceWindow) -> str:
        return ", ".join(fn.window_function_label(f) for f in obj.functions)

    @admin.action(description=_("End now (or cancel if not started)"))
    def end_now(self, request: HttpRequest, queryset: QuerySet[MaintenanceWindow]) -> None:
        for window in queryset:
            try:
                services.window_end(window_id=window.pk, actor=str(request.user.get_username()), user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{window.pk}: {exc.message}", messages.ERROR)


class ReceptionHoursForm(forms.ModelForm):
    function = forms.ChoiceField(label=_("function"), choices=list(fn.HOURS_FUNCTIONS.items()), required=False)

    class Meta:
        model = ReceptionHours
        fields = ("function", "opens", "closes", "effective_from", "note")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("opens") and data.get("closes") and data["closes"] <= data["opens"]:
            self.add_error("closes", _("The closing time must be after the opening time."))
        return data


@admin.register(ReceptionHours)
class ReceptionHoursAdmin(HistoryMixin, BumpMixin, admin.ModelAdmin):
    """Hours are effective-dated rows: a change adds a row; rows are kept as the history."""

    form = ReceptionHoursForm
    list_display = ("function_label", "opens", "closes", "effective_from", "created_by", "note")
    list_filter = ("function",)
    date_hierarchy = "effective_from"

    @admin.display(description=_("function"))
    def function_label(self, obj: ReceptionHours) -> str:
        return str(fn.HOURS_FUNCTIONS.get(obj.function, obj.function))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("effective_from", services.clock.now())  # type: ignore[arg-type]
        return initial


class ClosedDayForm(forms.ModelForm):
    """A change to the company calendar: close a day, or open it again, from a date on."""

    class Meta:
        model = ClosedDay
        fields = ("day", "yearly", "closed", "effective_from", "note")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("day") is not None and not self.errors:
            try:
                services.closed_day_check(day=data["day"], yearly=bool(data.get("yearly")),
                                          closed=bool(data.get("closed")), effective_from=data.get("effective_from"))
            except DomainError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, str(exc.message))
        return data


@admin.register(ClosedDay)
class ClosedDayAdmin(HistoryMixin, BumpMixin, admin.ModelAdmin):
    """Closed days are effective-dated changes like the hours: closing or opening a day adds a row; rows are
    kept as the history (what the calendar was, and when it changed)."""

    form = ClosedDayForm
    change_list_template = "admin/controls/closedday/change_list.html"
    list_display = ("day_label", "yearly", "state", "effective_from", "created_at", "created_by", "note")
    list_filter = ("yearly", "closed")
    date_hierarchy = "effective_from"
    actions = ("open_again",)

    @admin.display(description=_("day"), ordering="day")
    def day_label(self, obj: ClosedDay) -> str:
        return obj.day_label

    @admin.display(description=_("change"), ordering="closed")
    def state(self, obj: ClosedDay) -> str:
        return str(_("Closed") if obj.closed else _("Opened again"))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("effective_from", services.clock.today_jst())  # type: ignore[arg-type]
        return initial

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = dict(extra_context or {})
        extra["closed_days_ahead"] = services.closed_days_ahead()
        extra.setdefault("title", _("Company calendar: closed days and their history"))
        return super().changelist_view(request, extra_context=extra)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        change_fn = services.closed_day_add if obj.closed else services.closed_day_remove
        row = change_fn(day=obj.day, yearly=obj.yearly, effective_from=obj.effective_from, note=obj.note,
                        actor=str(request.user.get_username()), user=request.user)
        obj.pk, obj.day, obj.created_at = row.pk, row.day, row.created_at

    @admin.action(description=_("Open again from today"))
    def open_again(self, request: HttpRequest, queryset: QuerySet[ClosedDay]) -> None:
        for row in queryset:
            try:
                services.closed_day_remove(closed_day_id=row.pk, actor=str(request.user.get_username()),
                                           user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{row.day_label}: {exc.message}", messages.ERROR)


class NoticeForm(forms.ModelForm):
    class Meta:
        model = Notice
        fields = ("title_ja", "title_en", "body_ja", "body_en", "importance", "starts_at", "ends_at", "all_tenants",
                  "tenants")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must be after the start."))
        if not data.get("all_tenants") and not data.get("tenants"):
            self.add_error("tenants", _("Choose the tenants, or tick all tenants."))
        return data


@admin.register(Notice)
class NoticeAdmin(BumpMixin, admin.ModelAdmin):
    form = NoticeForm
    list_display = ("title_ja", "importance", "starts_at", "ends_at", "all_tenants", "mailed_at")
    list_filter = ("importance", "all_tenants")
    filter_horizontal = ("tenants",)
    readonly_fields = ("mailed_at",)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("starts_at", services.clock.now().replace(second=0, microsecond=0))  # type: ignore[arg-type]
        return initial

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        notice = form.instance
        if notice.important and notice.mailed_at is None:
            services.notice_mail(notice, None if notice.all_tenants else list(notice.tenants.all()))


@admin.register(ServiceSwitch)
class ServiceSwitchAdmin(BumpMixin, admin.ModelAdmin):
    list_display = ("tenant", "function_label", "enabled", "note", "updated_by", "updated_at")
    list_filter = ("function", "enabled")
    search_fields = ("tenant__public_id", "tenant__legal_name")
    raw_id_fields = ("tenant",)

    class Form(forms.ModelForm):
        function = forms.ChoiceField(label=_("function"), choices=list(fn.SWITCHES.items()))

        class Meta:
            model = ServiceSwitch
            fields = ("tenant", "function", "enabled", "note")

    form = Form

    @admin.display(description=_("function"))
    def function_label(self, obj: ServiceSwitch) -> str:
        return str(fn.SWITCHES.get(obj.function, obj.function))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.updated_by = str(request.user.get_username())[:100]
        super().save_model(request, obj, form, change)




@admin.register(OperatorSwitch)
class OperatorSwitchAdmin(BumpMixin, admin.ModelAdmin):
    """Switches for everyone, visitors before sign-in included (the public quote calculator). Without a row
    the environment's default applies."""

    list_display = ("function_label", "enabled", "note", "updated_by", "updated_at")
    list_editable = ("enabled",)
    list_display_links = ("function_label",)

    class Form(forms.ModelForm):
        function = forms.ChoiceField(label=_("function"),
                                     choices=[(k, v[0]) for k, v in fn.OPERATOR_SWITCHES.items()])

        class Meta:
            model = OperatorSwitch
            fields = ("function", "enabled", "note")

    form = Form

    @admin.display(description=_("function"))
    def function_label(self, obj: OperatorSwitch) -> str:
        entry = fn.OPERATOR_SWITCHES.get(obj.function)
        return str(entry[0]) if entry else obj.function

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.updated_by = str(request.user.get_username())[:100]
        super().save_model(request, obj, form, change)
