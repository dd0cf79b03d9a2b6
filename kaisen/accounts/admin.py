from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kaisen.accounts.models import ApiKey, User
from kaisen.accounts.services import api_key_revoke
from kaisen.audit.backoffice import HIDDEN, AuditedAdminMixin
from kaisen.audit.services import audit_record
from kaisen.core.admin import ReadOnlyAdminMixin
from kaisen.core.errors import DomainError
from kaisen.security.throttle import account_key, throttle_clear


def _check_staff_or_tenant(form: forms.ModelForm) -> None:
    data = form.cleaned_data
    if data.get("tenant") is not None and (data.get("is_staff") or data.get("is_superuser")):
        raise forms.ValidationError(
            _("Operator staff have no tenant. Either clear the tenant or clear 'operator staff' and 'superuser'.")
        )
    if data.get("tenant") is None and data.get("is_root"):
        raise forms.ValidationError(_("A root user belongs to a tenant."))
    if data.get("tenant") is None and "is_staff" in data and not data.get("is_staff"):
        raise forms.ValidationError(
            _("A user without a tenant is operator staff: choose a tenant, or tick 'operator staff'.")
        )


class KaisenUserCreationForm(AdminUserCreationForm):
    """Usernames are unique per tenant (the model's constraints check that), not across all users."""

    class Meta:
        model = User
        fields = ("tenant", "username", "display_name", "email", "is_root", "is_staff")

    def clean_username(self) -> str:
        return self.cleaned_data["username"]

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        _check_staff_or_tenant(self)
        return cleaned


class KaisenUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        _check_staff_or_tenant(self)
        return cleaned


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    form = KaisenUserChangeForm
    add_form = KaisenUserCreationForm
    list_display = ("username", "tenant", "display_name", "email", "is_root", "is_staff", "is_active", "is_locked",
                    "last_login")
    list_filter = ("is_staff", "is_root", "is_active", "is_locked")
    list_select_related = ("tenant",)
    search_fields = ("username", "display_name", "email", "tenant__public_id", "tenant__legal_name")
    ordering = ("tenant__public_id", "username")
    raw_id_fields = ("tenant",)
    readonly_fields = ("last_login", "date_joined", "locked_at", "failed_login_count")
    fieldsets = (
        (None, {"fields": ("tenant", "username", "password")}),
        (_("Profile"), {"fields": ("display_name", "email", "language")}),
        (_("Tenant role"), {"fields": ("is_root",)}),
        (_("State"), {"fields": ("is_active", "is_locked", "locked_at", "failed_login_count")}),
        (_("Operator staff"), {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("tenant", "username", "display_name", "email", "is_root",
                                                 "is_staff", "usable_password", "password1", "password2")}),
    )
    actions = ("unlock_users",)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            if user is not None:
                self.audit(request, user, "password_change", {"password": [HIDDEN, HIDDEN]})
        return response

    @admin.action(description=_("Unlock selected users"))
    def unlock_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = 0
        for user in queryset.filter(is_locked=True):
            user.is_locked = False
            user.locked_at = None
            user.failed_login_count = 0
            user.save(update_fields=["is_locked", "locked_at", "failed_login_count"])
            # The failed-login limiter's counter of the account starts afresh too (kaisen.security.throttle).
            throttle_clear(account_key(user.tenant.public_id if user.tenant else "", user.username))
            self.audit(request, user, "update", {"is_locked": [True, False]})
            count += 1
        self.message_user(request, ngettext("%(count)d user unlocked.", "%(count)d users unlocked.", count)
                          % {"count": count}, messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key_id", "name", "tenant", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("tenant", "user", "user__tenant")
    search_fields = ("=key_id", "name", "tenant__public_id", "user__username")
    exclude = ("secret_hash",)
    actions = ("revoke_keys",)
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The revoke action needs change permission on the list; the form itself stays read-only.
        return obj is None and bool(request.user.is_superuser or request.user.has_perm("accounts.change_apikey"))

    @admin.action(description=_("Revoke selected API keys"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for key in queryset.select_related("user", "tenant").filter(revoked_at__isnull=True):
            try:
                api_key_revoke(user=key.user, key_id=key.key_id)
            except DomainError as exc:
                self.message_user(request, f"{key.key_id}: {exc.message}", messages.ERROR)
                continue
            audit_record(action="admin.apikey.revoke", tenant=key.tenant, user=request.user, target=key,
                         changes={"revoked": [False, True]})
            count += 1
        self.message_user(request, ngettext("%(count)d API key revoked.", "%(count)d API keys revoked.", count)
                          % {"count": count}, messages.SUCCESS)
