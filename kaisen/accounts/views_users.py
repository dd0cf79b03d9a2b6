"""User management pages of the tenant's root user, and every user's own username change (issue 5 §2,
M-USER-1, M-USER-2). The rules live in kaisen.accounts.services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kaisen.access.web import action_required
from kaisen.accounts.forms import UserCreateForm, UserEditForm, UsernameChangeForm
from kaisen.accounts.models import User
from kaisen.accounts.selectors import user_get, user_list
from kaisen.accounts.services import (
    user_create_limited,
    user_unlock_by_root,
    user_update,
    username_change,
)
from kaisen.core.errors import DomainError, NotFound
from kaisen.core.web import request_tenant, request_user, tenant_user_required
from kaisen.security.passwords import password_help_texts

#: User management needs ``User:manage`` (issue 5 §1); the root user always has it.
root_user_required = action_required("User:manage")


def _get(request: HttpRequest, user_id: int) -> User:
    try:
        return user_get(tenant=request_tenant(request), user_id=user_id)
    except NotFound as exc:
        raise Http404 from exc


def _form_error(form, exc: DomainError, mapping: dict[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    field = (mapping or {}).get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, str(exc.message))


@root_user_required
@never_cache
def user_list_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/users.html", {"users": user_list(tenant=request_tenant(request)),
                                                   "me": request_user(request)})


@sensitive_post_parameters("password", "password2")
@root_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def user_create_view(request: HttpRequest) -> HttpResponse:
    actor = request_user(request)
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            from django.db import transaction

            from kaisen.access.services import user_roles_set

            role_ids = [int(r) for r in request.POST.getlist("roles") if r.isdigit()]
            with transaction.atomic():  # the user and their roles (issue 5 §1), or nothing
                user = user_create_limited(actor=actor, username=data["username"],
                                           display_name=data["display_name"], email=data["email"],
                                           password=data["password"])
                if role_ids:
                    user_roles_set(actor=actor, user_id=user.pk, roles=role_ids)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("User %(username)s has been created.") % {"username": user.username})
            return redirect("accounts:user_detail", user_id=user.pk)
    from kaisen.access import services as access

    roles = ([{"role": r, "label": access.role_label(r), "description": access.role_description(r),
               "checked": str(r.pk) in request.POST.getlist("roles")}
              for r in access.role_list(tenant=actor.tenant)] if access.can(user=actor, action="Role:manage") else [])
    return render(request, "accounts/user_create.html",
                  {"form": form, "rules": password_help_texts(User(tenant=actor.tenant)), "roles": roles})


@root_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def user_detail_view(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = request_user(request)
    user = _get(request, user_id)
    edit = UserEditForm(request.POST or None, initial={"display_name": user.display_name, "email": user.email})
    if request.method == "POST" and edit.is_valid():
        try:
            user_update(actor=actor, user_id=user.pk, display_name=edit.cleaned_data["display_name"],
                        email=edit.cleaned_data["email"])
        except DomainError as exc:
            _form_error(edit, exc)
        else:
            messages.success(request, _("The user has been saved."))
            return redirect("accounts:user_detail", user_id=user.pk)
    from kaisen.access.services import role_label, user_roles

    return render(request, "accounts/user_detail.html", {
        "account": user, "me": actor, "edit": edit,
        "access_roles": [role_label(r) for r in user_roles(user=user)],
        "rename": UsernameChangeForm(initial={"new_username": user.username}),
    })


@root_user_required
@require_POST
def user_username_view(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = request_user(request)
    user = _get(request, user_id)
    form = UsernameChangeForm(request.POST)
    if form.is_valid():
        try:
            username_change(actor=actor, user_id=user.pk, new_username=form.cleaned_data["new_username"])
        except DomainError as exc:
            _form_error(form, exc, {"username": "new_username"})
        else:
            messages.success(request, _("The username has been changed."))
            return redirect("accounts:user_detail", user_id=user.pk)
    return render(request, "accounts/user_detail.html", {
        "account": user, "me": actor, "rename": form,
        "edit": UserEditForm(initial={"display_name": user.display_name, "email": user.email}),
    }, status=400)


@root_user_required
@require_POST
def user_unlock_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _get(request, user_id)
    user_unlock_by_root(actor=request_user(request), user_id=user.pk)
    messages.success(request, _("User %(username)s has been unlocked.") % {"username": user.username})
    return redirect("accounts:user_detail", user_id=user.pk)


@root_user_required
@require_POST
def user_active_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _get(request, user_id)
    active = request.POST.get("is_active") == "1"
    try:
        user_update(actor=request_user(request), user_id=user.pk, is_active=active)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("User %(username)s has been activated.") % {"username": user.username}
                         if active else
                         _("User %(username)s has been deactivated.") % {"username": user.username})
    return redirect("accounts:user_detail", user_id=user.pk)


@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def my_username_view(request: HttpRequest) -> HttpResponse:
    """Any user of a tenant changes their own username (M-USER-2)."""
    user = request_user(request)
    form = UsernameChangeForm(request.POST or None, initial={"new_username": user.username})
    if request.method == "POST" and form.is_valid():
        try:
            username_change(actor=user, user_id=user.pk, new_username=form.cleaned_data["new_username"])
        except DomainError as exc:
            _form_error(form, exc, {"username": "new_username"})
        else:
            messages.success(request, _("Your username has been changed. Log in with the new one from now on."))
            return redirect("accounts:security")
    return render(request, "accounts/my_username.html", {"form": form, "account": user})
