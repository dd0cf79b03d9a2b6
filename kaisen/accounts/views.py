"""Login / logout (M-AUTH-1, T-1) and the user's own API keys (X-API)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kaisen.accounts.email_login import login_check_email
from kaisen.accounts.forms import ApiKeyCreateForm, EmailLoginForm, LoginForm
from kaisen.accounts.models import User
from kaisen.accounts.second_step import second_step
from kaisen.accounts.selectors import api_key_list
from kaisen.accounts.services import api_key_create, api_key_revoke, login_check
from kaisen.core import clock
from kaisen.core.clock import JST
from kaisen.core.errors import DomainError, NotFound
from kaisen.core.web import request_user, tenant_user_required


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def login_complete(request: HttpRequest, user: User, *, next_url: str) -> HttpResponse:
    """The one place a web login completes: the session is authenticated (its key rotated) and registered."""
    auth_login(request, user, backend="kaisen.accounts.backends.TenantUserBackend")
    # The session is recorded by kaisen.security.signals (Django's user_logged_in), which also covers the
    # back-office login at /admin/.
    return redirect(next_url)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request))
    # S-ACC-1: the root user logs in by email ("root"), limited users by operator ID + username ("user").
    mode = request.POST.get("mode") or request.GET.get("mode") or "user"
    mode = mode if mode in ("root", "user") else "user"
    form: LoginForm | EmailLoginForm = (EmailLoginForm if mode == "root" else LoginForm)(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            if isinstance(form, EmailLoginForm):
                user = login_check_email(request=request, email=form.cleaned_data["email"],
                                         password=form.cleaned_data["password"])
            else:
                user = login_check(request=request, operator_id=form.cleaned_data["operator_id"],
                                   username=form.cleaned_data["username"], password=form.cleaned_data["password"])
        except DomainError as exc:
            error = exc.message
            if mode == "root":
                error = _("The email address or password is incorrect, or the account is locked.")
        else:
            try:
                second = second_step().web(request, user, next_url=_safe_next(request))
            except DomainError as exc:
                error = exc.message
            else:
                return second or login_complete(request, user, next_url=_safe_next(request))
    return render(request, "accounts/login.html", {
        "form": form, "error": error, "mode": mode, "next": request.POST.get("next") or request.GET.get("next", ""),
    }, status=401 if error else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, _("You have been logged out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


def _end_of_day_jst(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=JST)


@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        expires_on = form.cleaned_data["expires_on"]
        try:
            new = api_key_create(user=user, name=form.cleaned_data["name"],
                                 expires_at=_end_of_day_jst(expires_on) if expires_on else None)
        except DomainError as exc:
            field = {"name": "name", "expires_at": "expires_on"}.get(exc.field or "")
            form.add_error(field, str(exc.message))
        else:
            # The secret exists only in this response: it is stored hashed and never shown again.
            response = render(request, "accounts/api_key_created.html", {"new": new})
            response["Cache-Control"] = "no-store"
            return response
    from kaisen.access import actions

    keys = api_key_list(user=user)
    return render(request, "accounts/api_keys.html", {"form": form, "keys": keys, "now": clock.now(),
                                                      "api_key_permission": actions.ACTIONS[actions.APIKEY_MANAGE]})


@tenant_user_required
@require_http_methods(["GET", "POST"])
def api_key_revoke_view(request: HttpRequest, key_id: str) -> HttpResponse:
    user = request_user(request)
    if request.method == "POST":
        try:
            key = api_key_revoke(user=user, key_id=key_id, reason=request.POST.get("reason", "")[:500])
        except NotFound as exc:
            raise Http404 from exc
        messages.success(request, _("API key %(key_id)s has been revoked.") % {"key_id": key.key_id})
        return redirect("accounts:api_keys")
    pending = api_key_list(user=user).filter(key_id=key_id).first()
    if pending is None:
        raise Http404
    return render(request, "accounts/api_key_revoke.html", {"key": pending})
