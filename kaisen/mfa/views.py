"""Web pages of two-step login: the code page after the password, enrolment, and the user's settings.

A session that passed the password but not the second step is *not* authenticated: it holds only the
challenge ID (``mfa_login``). A user whose tenant requires two-step login but who has none gets an
enrolment-only session (``mfa_enrol``, 15 minutes) that opens nothing but these pages; the login
completes when the authenticator app is confirmed (an email address completes at the next login, after
its confirmation link).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import segno
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kaisen.accounts.forms import LoginForm
from kaisen.accounts.models import User
from kaisen.core import clock
from kaisen.core.errors import DomainError
from kaisen.mfa import services
from kaisen.mfa.forms import CodeForm, DisableForm, EmailForm
from kaisen.mfa.models import MfaMethod
from kaisen.tenancy.models import MfaPolicy

PENDING = "mfa_login"
ENROL = "mfa_enrol"
TOTP_SECRET = "mfa_totp_secret"  # noqa: S105 - a session key name
ENROL_TTL = dt.timedelta(minutes=15)


def _mask(email: str) -> str:
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _start_enrol(request: HttpRequest, user: User, kind: str, next_url: str) -> HttpResponse:
    request.session[ENROL] = {"user_id": user.pk, "kind": kind, "next": next_url,
                              "until": (clock.now() + ENROL_TTL).timestamp()}
    return redirect("mfa:settings")


def login_second_step(request: HttpRequest, user: User, *, next_url: str) -> HttpResponse | None:
    """After a correct password: the code page, the enrolment page, or None (log in now)."""
    step = services.login_begin(user=user, channel="web")
    if step.challenge is None and not step.enrol:
        return None
    request.session.cycle_key()
    request.session.pop(ENROL, None)
    if step.challenge is not None:
        request.session[PENDING] = {"challenge_id": step.challenge.challenge_id, "next": next_url,
                                    "enrol": step.enrol}
        return redirect("mfa:login_verify")
    return _start_enrol(request, user, step.enrol, next_url)


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_verify_view(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending:
        return redirect("accounts:login")
    from kaisen.mfa.models import LoginChallenge

    challenge = LoginChallenge.objects.select_related("user").filter(challenge_id=pending["challenge_id"]).first()
    if challenge is None:
        request.session.pop(PENDING, None)
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        request.session.pop(PENDING, None)
        try:
            user = services.login_verify(challenge_id=pending["challenge_id"], code=form.cleaned_data["code"],
                                         channel="web")
        except DomainError as exc:
            messages.error(request, str(exc.message))
            return redirect("accounts:login")
        if pending.get("enrol"):
            request.session.cycle_key()
            return _start_enrol(request, user, pending["enrol"], pending["next"])
        from kaisen.accounts.views import login_complete

        return login_complete(request, user, next_url=pending["next"])
    mfa = services.user_mfa(challenge.user)
    return render(request, "mfa/login_code.html", {
        "form": form, "method": challenge.method, "email": _mask(mfa.email),
        "ttl": int(services.CODE_TTL.total_seconds()),
    })


@require_POST
def login_resend_view(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending:
        return redirect("accounts:login")
    try:
        services.login_resend(challenge_id=pending["challenge_id"], channel="web")
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("A new code has been sent. The previous code no longer works."))
    return redirect("mfa:login_verify")


def _acting(request: HttpRequest) -> tuple[User, str] | None:
    """The signed-in tenant user (kind ""), or the user of an enrolment-only session (kind "any"/"totp")."""
    if request.user.is_authenticated:
        user = request.user
        return (user, "") if isinstance(user, User) and user.tenant_id is not None else None
    enrol = request.session.get(ENROL)
    if not enrol or enrol["until"] < clock.now().timestamp():
        return None
    found = User.objects.select_related("tenant").filter(pk=enrol["user_id"], is_active=True, is_locked=False).first()
    return (found, enrol["kind"]) if found is not None else None


def _link_base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("mfa:confirm", kwargs={"token": "T"}))[:-2]


@never_cache
@require_http_methods(["GET", "POST"])
def settings_view(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    if acting is None:
        return redirect("accounts:login")
    user, enrol = acting
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.email_change_request(user=user, email=form.cleaned_data["email"],
                                                   link_base=_link_base(request))
        except DomainError as exc:
            form.add_error("email" if exc.field == "email" else None, str(exc.message))
        else:
            messages.success(request, _("A confirmation mail has been sent to %(email)s. Open its link within 24 "
                                        "hours to finish the setup.") % {"email": change.email})
            return redirect("mfa:settings")
    mfa = services.user_mfa(user)
    ctx: dict[str, Any] = {
        "form": form, "mfa": mfa, "enrol": enrol, "pending": services.email_change_pending(user),
        "recovery_left": services.recovery_codes_left(user) if mfa.method == MfaMethod.TOTP else None,
        "can_disable": mfa.method != MfaMethod.NONE and user.tenant is not None
        and user.tenant.mfa_policy == MfaPolicy.OPTIONAL,
        "email_allowed": services.enrolment_needed(user, type(mfa)(user=user, method=MfaMethod.EMAIL)) != "totp",
    }
    return render(request, "mfa/settings.html", ctx)


@require_POST
def withdraw_view(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    if acting is None:
        return redirect("accounts:login")
    if services.email_change_withdraw(user=acting[0]):
        messages.success(request, _("The pending change has been withdrawn. Your login method is unchanged."))
    return redirect("mfa:settings")


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def totp_setup_view(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    if acting is None:
        return redirect("accounts:login")
    user, enrol = acting
    secret = request.session.get(TOTP_SECRET) or services.totp_new_secret()
    request.session[TOTP_SECRET] = secret
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_enable(user=user, secret=secret, code=form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", str(exc.message))
        else:
            request.session.pop(TOTP_SECRET, None)
            next_url = reverse("core:home")
            if enrol:
                next_url = request.session.pop(ENROL, {}).get("next") or next_url
                from kaisen.accounts.views import login_complete

                login_complete(request, user, next_url=next_url)
            response = render(request, "mfa/recovery_codes.html", {"codes": codes, "next": next_url})
            response["Cache-Control"] = "no-store"
            return response
    uri = services.totp_uri(user, secret)
    return render(request, "mfa/totp_setup.html", {
        "form": form, "enrol": enrol, "uri": uri, "qr": segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
        "key": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
    })


@sensitive_post_parameters("password", "code")
@never_cache
@require_http_methods(["GET", "POST"])
def disable_view(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    if acting is None or acting[1]:
        return redirect("accounts:login")
    user = acting[0]
    mfa = services.user_mfa(user)
    form = DisableForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "disable")
        try:
            if action == "recovery" and mfa.method == MfaMethod.TOTP:
                codes = services.recovery_codes_regenerate(user=user, password=form.cleaned_data["password"],
                                                           code=form.cleaned_data["code"])
                response = render(request, "mfa/recovery_codes.html", {"codes": codes, "next": reverse("mfa:settings")})
                response["Cache-Control"] = "no-store"
                return response
            services.mfa_disable(user=user, password=form.cleaned_data["password"], code=form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error(exc.field if exc.field in ("password", "code") else None, str(exc.message))
        else:
            messages.success(request, _("Two-step login is off: you log in with your password only."))
            return redirect("mfa:settings")
    return render(request, "mfa/disable.html", {"form": form, "mfa": mfa,
                                                "allowed": user.tenant is not None
                                                and user.tenant.mfa_policy == MfaPolicy.OPTIONAL})


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the confirmation mail (M-USER-3): asks for user ID and password, needs no session."""
    change = services.email_change_lookup(token)
    if change is None:
        return render(request, "mfa/confirm.html", {"invalid": True}, status=410)
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            services.email_change_confirm(token=token, request=request, **form.cleaned_data)
        except DomainError as exc:
            error = exc.message
        else:
            return render(request, "mfa/confirm.html", {"done": True, "email": change.email})
    return render(request, "mfa/confirm.html", {"form": form, "error": error, "email": change.email},
                  status=401 if error else 200)
