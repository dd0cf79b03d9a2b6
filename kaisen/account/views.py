"""Account pages (issue 5 §7): contract summary (K-1), phone-number pages with NEXT / BACK (K-2), contract
holder information and login email (S-ACC-3), SIM transfer (S-ACC-4), account deletion (S-ACC-5).

Interfaces only: the rules and the permission checks are in kaisen.account.services / selectors and
kaisen.accounts.email_login.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kaisen.account import selectors, services
from kaisen.account.forms import (
    ContractHolderForm,
    DeleteAccountForm,
    LoginEmailForm,
    SessionSettingsForm,
    TransferCreateForm,
    TransferTokenForm,
)
from kaisen.accounts.email_login import (
    login_email_change_confirm,
    login_email_change_lookup,
    login_email_change_request,
    login_email_change_withdraw,
    login_email_pending,
)
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.web import request_user, tenant_user_required
from kaisen.lines.models import LineStatus


def _denied_or_missing(exc: DomainError) -> None:
    if exc.code == ErrorCode.PERMISSION_DENIED:
        raise PermissionDenied(str(exc.message)) from exc
    if exc.code == ErrorCode.NOT_FOUND:
        raise Http404 from exc


def _form_error(form: Any, exc: DomainError, mapping: dict[str, str] | None = None) -> None:
    if exc.code == ErrorCode.PERMISSION_DENIED:
        raise PermissionDenied(str(exc.message)) from exc
    field = (mapping or {}).get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, str(exc.message))


# --- K-1 -----------------------------------------------------------------------------------------

@tenant_user_required
@never_cache
def contract_view(request: HttpRequest) -> HttpResponse:
    try:
        summary = selectors.contract_summary(user=request_user(request))
    except DomainError as exc:
        _denied_or_missing(exc)
        raise
    statuses = [(s.value, s.label, summary.lines_by_status.get(s.value, 0)) for s in LineStatus]
    return render(request, "account/contract.html", {"s": summary, "t": summary.tenant, "statuses": statuses})


# --- K-2 -----------------------------------------------------------------------------------------

def _number_page(request: HttpRequest, line_id: int | None) -> HttpResponse:
    try:
        detail = selectors.number_detail(user=request_user(request), line_id=line_id)
    except DomainError as exc:
        if exc.code == ErrorCode.NOT_FOUND and line_id is None:
            return render(request, "account/number.html", {"d": None})
        _denied_or_missing(exc)
        raise
    return render(request, "account/number.html", {"d": detail, "line": detail.line})


@tenant_user_required
@never_cache
def number_first_view(request: HttpRequest) -> HttpResponse:
    return _number_page(request, None)


@tenant_user_required
@never_cache
def number_view(request: HttpRequest, line_id: int) -> HttpResponse:
    return _number_page(request, line_id)


# --- S-ACC-3 -------------------------------------------------------------------------------------

@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    tenant = user.tenant
    assert tenant is not None
    try:
        selectors.contract_summary(user=user)
    except DomainError as exc:
        _denied_or_missing(exc)
        raise
    initial = {f: getattr(tenant, f) for f in services.PROFILE_FIELDS}
    form = ContractHolderForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not user.is_root:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.contract_holder_update(actor=user, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("The contract holder information has been updated."))
                return redirect("account:profile")
    return render(request, "account/profile.html", {
        "form": form, "t": tenant, "is_root": user.is_root, "email_form": LoginEmailForm(),
        "pending": login_email_pending(user) if user.is_root else None,
    })


@tenant_user_required
@require_http_methods(["GET", "POST"])
def session_settings_view(request: HttpRequest) -> HttpResponse:
    """The tenant's sign-in settings: after how many idle minutes a browser session ends (root user changes it)."""
    user = request_user(request)
    tenant = user.tenant
    assert tenant is not None  # every user of the tenant may see the setting: it applies to them
    form = SessionSettingsForm(request.POST or None, initial={"session_idle_minutes": tenant.session_idle_minutes})
    if request.method == "POST":
        if not user.is_root:
            raise PermissionDenied(_("Only the tenant's root user can change the sign-in settings."))
        if form.is_valid():
            try:
                services.session_settings_update(actor=user,
                                                 session_idle_minutes=form.cleaned_data["session_idle_minutes"])
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("The sign-in settings have been saved."))
                return redirect("account:session_settings")
    from django.conf import settings

    return render(request, "account/session_settings.html", {
        "form": form, "t": tenant, "is_root": user.is_root, "max_hours": settings.SESSION_COOKIE_AGE // 3600})


@tenant_user_required
@require_POST
def login_email_view(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = LoginEmailForm(request.POST)
    if form.is_valid():
        try:
            change = login_email_change_request(
                actor=user, new_email=form.cleaned_data["email"],
                link_base=request.build_absolute_uri(reverse("account:login_email_confirm")))
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise PermissionDenied(str(exc.message)) from exc
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("A confirmation link was sent to %(email)s. The login email changes when "
                                        "the link is opened (within 24 hours).") % {"email": change.new_email})
    else:
        messages.error(request, " ".join(str(e) for e in form.errors.get("email", [])))
    return redirect(reverse("account:profile") + "#login-email")


@tenant_user_required
@require_POST
def login_email_withdraw_view(request: HttpRequest) -> HttpResponse:
    try:
        if login_email_change_withdraw(actor=request_user(request)):
            messages.info(request, _("The pending login email change was withdrawn."))
    except DomainError as exc:
        _denied_or_missing(exc)
        raise
    return redirect(reverse("account:profile") + "#login-email")


@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def login_email_confirm_view(request: HttpRequest) -> HttpResponse:
    """The mailed link. GET shows a button (mail scanners that fetch links do not use the token up); POST
    confirms. Only the root user who asked, logged in, can confirm."""
    user = request_user(request)
    token = request.POST.get("token") or request.GET.get("token") or ""
    if request.method == "POST":
        try:
            login_email_change_confirm(actor=user, token=token)
        except DomainError as exc:
            return render(request, "account/login_email_confirm.html", {"error": exc.message}, status=400)
        messages.success(request, _("Your login email is now %(email)s.") % {"email": request_user(request).email})
        return redirect("account:profile")
    change = login_email_change_lookup(token)
    if change is None or change.user_id != user.pk:
        return render(request, "account/login_email_confirm.html",
                      {"error": DomainError(ErrorCode.EMAIL_LINK_INVALID).message}, status=400)
    return render(request, "account/login_email_confirm.html", {"change": change, "token": token})


# --- S-ACC-4 -------------------------------------------------------------------------------------

def _root_only(request: HttpRequest) -> None:
    if not request_user(request).is_root:
        raise PermissionDenied


@tenant_user_required
@never_cache
def transfer_list_view(request: HttpRequest) -> HttpResponse:
    _root_only(request)
    user = request_user(request)
    try:
        transfers = selectors.transfer_list(user=user)
    except DomainError as exc:
        _denied_or_missing(exc)
        raise
    rows = [(t, "out" if t.from_tenant_id == user.tenant_id else "in", selectors.transfer_is_open(t))
            for t in transfers]
    return render(request, "account/transfers.html", {"rows": rows})


@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def transfer_create_view(request: HttpRequest) -> HttpResponse:
    _root_only(request)
    user = request_user(request)
    form = TransferCreateForm(request.POST or None)
    refused: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        refs = request.POST.getlist("line") + form.cleaned_data["refs"].split()
        try:
            new = services.transfer_create(actor=user, to_operator_id=form.cleaned_data["to_operator_id"],
                                           lines=refs)
        except DomainError as exc:
            _form_error(form, exc, {"lines": "refs"})
            refused = exc.details.get("refused", [])
        else:
            response = render(request, "account/transfer_created.html",
                              {"t": new.transfer, "token": new.token, "items": selectors.transfer_items(new.transfer)})
            response["Cache-Control"] = "no-store"
            return response
    try:
        candidates = selectors.transfer_candidates(user=user)
    except DomainError as exc:
        _denied_or_missing(exc)
        raise
    chosen = set(request.POST.getlist("line"))
    return render(request, "account/transfer_create.html", {
        "form": form, "candidates": candidates, "chosen": chosen, "refused": refused,
        "labels": selectors.BLOCKER_LABELS, "ttl_days": services.TRANSFER_TTL.days,
    })


@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def transfer_accept_view(request: HttpRequest) -> HttpResponse:
    """Receiving account: enter the code → see the SIMs → accept."""
    _root_only(request)
    user = request_user(request)
    form = TransferTokenForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        try:
            if request.POST.get("accept") == "1":
                transfer = services.transfer_accept(actor=user, token=token)
                messages.success(request, _("%(n)d SIMs have been transferred to your account.")
                                 % {"n": transfer.items.count()})
                return redirect("account:transfer_detail", transfer_id=transfer.pk)
            preview = services.transfer_preview(actor=user, token=token)
        except DomainError as exc:
            _form_error(form, exc, {"token": "token", "lines": "token"})
    return render(request, "account/transfer_accept.html", {
        "form": form, "preview": preview, "items": selectors.transfer_items(preview) if preview else [],
    })


@tenant_user_required
@never_cache
def transfer_detail_view(request: HttpRequest, transfer_id: int) -> HttpResponse:
    user = request_user(request)
    try:
        transfer = selectors.transfer_get(user=user, transfer_id=transfer_id)
    except DomainError as exc:
        _denied_or_missing(exc)
        raise
    return render(request, "account/transfer_detail.html", {
        "t": transfer, "items": selectors.transfer_items(transfer), "is_open": selectors.transfer_is_open(transfer),
        "outgoing": transfer.from_tenant_id == user.tenant_id, "is_root": user.is_root,
    })


@tenant_user_required
@require_POST
def transfer_cancel_view(request: HttpRequest, transfer_id: int) -> HttpResponse:
    try:
        services.transfer_cancel(actor=request_user(request), transfer_id=transfer_id)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        _denied_or_missing(exc)
        messages.error(request, str(exc.message))
    else:
        messages.info(request, _("The transfer was withdrawn; its code no longer works."))
    return redirect("account:transfer_detail", transfer_id=transfer_id)


# --- S-ACC-5 -------------------------------------------------------------------------------------

@sensitive_post_parameters("password")
@tenant_user_required
@never_cache
@require_http_methods(["GET", "POST"])
def delete_view(request: HttpRequest) -> HttpResponse:
    _root_only(request)
    user = request_user(request)
    try:
        blockers = selectors.deletion_blockers(user=user)
    except DomainError as exc:
        _denied_or_missing(exc)
        raise
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = services.account_delete(actor=user, operator_id=form.cleaned_data["operator_id"],
                                             password=form.cleaned_data["password"])
        except DomainError as exc:
            _form_error(form, exc)
            blockers = selectors.deletion_blockers_of(user.tenant) if user.tenant else blockers
        else:
            auth_logout(request)
            return render(request, "account/deleted.html", {"t": tenant})
    statuses = dict(LineStatus.choices)
    lines = [(statuses.get(k, k), n) for k, n in blockers.lines_by_status.items()]
    return render(request, "account/delete.html", {"b": blockers, "form": form, "lines": lines,
                                                   "operator_id": user.tenant.public_id if user.tenant else ""},
                  status=409 if request.method == "POST" and not blockers.ok else 200)
