"""My account (lock state, last login), password change, password reset, my sessions (issue 5 §4-5)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from kaisen.core.errors import DomainError, NotFound
from kaisen.core.web import request_user, tenant_user_required
from kaisen.security.forms import PasswordChangeForm, PasswordResetConfirmForm, PasswordResetRequestForm
from kaisen.security.passwords import (
    password_change,
    password_help_texts,
    password_reset_confirm,
    password_reset_request,
    password_reset_user,
)
from kaisen.security.sessions import (
    session_list,
    session_revoke,
    sessions_end_all,
    sessions_keep_after_password_change,
)


@tenant_user_required
@never_cache
def account_security(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    return render(request, "security/account.html", {"account": user,
                                                     "session_count": session_list(user=user).count()})


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            password_change(user=user, current=data["current_password"], new=data["new_password1"],
                            repeat=data["new_password2"])
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            update_session_auth_hash(request, user)
            if data["end_other_sessions"]:
                ended = sessions_end_all(user=user, except_key=request.session.session_key, reason="password_change")
                messages.success(request, _("Your password has been changed. Other sessions signed out: %(n)d.")
                                 % {"n": ended})
            else:
                sessions_keep_after_password_change(user=user, except_key=request.session.session_key)
                messages.success(request, _("Your password has been changed."))
            return redirect("accounts:security")
    return render(request, "security/password_change.html", {"form": form, "rules": password_help_texts(user)})


@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def sessions_view(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if request.method == "POST":
        try:
            session_revoke(user=user, session_id=int(request.POST.get("session", "")))
        except (NotFound, ValueError) as exc:
            raise Http404 from exc
        messages.success(request, _("The session has been signed out."))
        return redirect("accounts:sessions")
    return render(request, "security/sessions.html", {
        "sessions": session_list(user=user), "current_key": request.session.session_key,
    })


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_request_view(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_reset_request(request=request, operator_id=form.cleaned_data["operator_id"],
                               username=form.cleaned_data["username"])
        return render(request, "security/password_reset_sent.html")
    return render(request, "security/password_reset_request.html", {"form": form})


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_confirm_view(request: HttpRequest) -> HttpResponse:
    uid, token = request.GET.get("u", ""), request.GET.get("t", "")
    user = password_reset_user(uid, token)
    if user is None:
        return render(request, "security/password_reset_invalid.html", status=400)
    form = PasswordResetConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_confirm(uidb64=uid, token=token, new=form.cleaned_data["new_password1"],
                                   repeat=form.cleaned_data["new_password2"])
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("Your password has been reset. Log in with the new password."))
            return redirect("accounts:login")
    response = render(request, "security/password_reset_confirm.html",
                      {"form": form, "rules": password_help_texts(user)})
    response["Referrer-Policy"] = "no-referrer"
    return response
