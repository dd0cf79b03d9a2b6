"""Payment pages (issue 4 §5; S-PAY-1..3): payment settings per coverage, payment history with retry, and
billing contacts. Viewing needs ``Billing:read``, changing ``Payment:manage``; the rules live in
kaisen.payments.services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from kaisen.access import actions
from kaisen.access.services import can
from kaisen.carriers.models import Coverage
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.web import request_user, tenant_user_required
from kaisen.payments import services
from kaisen.payments.forms import ApplicationForm, CardForm, EmailForm, MethodForm, RecoveryForm
from kaisen.payments.models import InvoiceDelivery, PaymentMethodKind, accepted_brands_label
from kaisen.payments.provider import TEST_CARD_HINTS

T = TypeVar("T")


def _form_error(form: forms.Form, exc: DomainError) -> None:
    if exc.code == ErrorCode.PERMISSION_DENIED:  # a forced form the user may not use: the 403 page (issue 5 §1)
        raise exc
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc.message))


def _submit(form: forms.Form, service: Callable[..., T], **kwargs: Any) -> T | None:
    """Validate ``form`` and call ``service(**kwargs, **form.cleaned_data)``. Returns what the service returned,
    or None when the form is invalid or the service refused (the error is then on the form)."""
    if not form.is_valid():
        return None
    try:
        return service(**kwargs, **form.cleaned_data)
    except DomainError as exc:
        _form_error(form, exc)
        return None


def _method_view(request: HttpRequest, coverage: str) -> services.MethodView:
    try:
        return services.method_view(user=request_user(request), coverage=coverage)
    except NotFound as exc:
        raise Http404 from exc


def _profile_url() -> str:
    """Where the primary (login) email is changed (S-ACC-3, account pages), if that page exists."""
    for name in ("account:profile", "account:login_email"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


@tenant_user_required
@never_cache
@require_GET
def settings_view(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    views = [services.method_view(user=user, coverage=c) for c in user.tenant.coverages]  # type: ignore[union-attr]
    history = services.payment_history(user=user)
    errors = [inv for inv, _r in history if inv.status == "payment_error"]
    return render(request, "payments/settings.html", {
        "views": views, "errors": errors, "can_manage": can(user=user, action=actions.PAYMENT_MANAGE),
        "simulator": views[0].simulator if views else True,
    })


def _coverage_page(request: HttpRequest, coverage: str, *, card_form: CardForm | None = None,
                   method_form: MethodForm | None = None, app_form: ApplicationForm | None = None,
                   status: int = 200) -> HttpResponse:
    user = request_user(request)
    view = _method_view(request, coverage)
    tenant = user.tenant
    s = view.setting
    if app_form is None:
        app_form = ApplicationForm(initial={"company_name": tenant.legal_name if tenant else "",
                                            "contact_name": tenant.contact_name if tenant else "",
                                            "phone": tenant.contact_phone if tenant else "",
                                            "delivery": InvoiceDelivery.EMAIL})
    if method_form is None:
        method_form = MethodForm(initial={"method": s.method or PaymentMethodKind.CARD,
                                          "delivery": s.invoice_delivery})
    corporate = tenant is not None and tenant.kind == "corporate"
    availability: dict[str, tuple[bool, str]] = {
        PaymentMethodKind.CARD: (view.card_usable, _("Register a valid credit card first.")),
        PaymentMethodKind.INVOICE: (corporate and s.invoice_approved,
                                    _("Corporate accounts only, after the invoice-payment application is approved.")
                                    if corporate else _("Individual accounts can only pay by credit card.")),
        PaymentMethodKind.BANK_DEBIT: (corporate and s.invoice_approved,
                                       _("After invoice payment is approved; switching takes about 2 months.")),
        PaymentMethodKind.KONBINI: (corporate and s.invoice_approved,
                                    _("With invoice payment by post (¥200 per mailing).")),
    }
    pending_app = view.application is not None and view.application.status == "pending"
    return render(request, "payments/method.html", {
        "view": view, "s": s, "coverage_label": Coverage(coverage).label,
        "card_form": card_form or CardForm(), "method_form": method_form, "app_form": app_form,
        "availability": [(value, label, *availability[value]) for value, label in PaymentMethodKind.choices],
        "can_manage": can(user=user, action=actions.PAYMENT_MANAGE), "corporate": corporate,
        "can_apply": corporate and not s.invoice_approved and not pending_app, "pending_app": pending_app,
        "test_cards": TEST_CARD_HINTS if view.simulator else [],
        "brands": accepted_brands_label(coverage),
    }, status=status)


@tenant_user_required
@never_cache
@require_GET
def method_view(request: HttpRequest, coverage: str) -> HttpResponse:
    return _coverage_page(request, coverage)


@sensitive_post_parameters("number", "cvc")
@tenant_user_required
@require_POST
def card_view(request: HttpRequest, coverage: str) -> HttpResponse:
    _method_view(request, coverage)
    form = CardForm(request.POST)
    setting = _submit(form, services.card_register, user=request_user(request), coverage=coverage)
    if setting is not None:
        messages.success(request, _("The card ending in %(last4)s has been registered.")
                         % {"last4": setting.card_last4})
        return redirect("payments:method", coverage=coverage)
    data = request.POST.copy()
    data["number"] = data["cvc"] = ""  # never echo a card number back
    form.data = data
    return _coverage_page(request, coverage, card_form=form, status=400)


@tenant_user_required
@require_POST
def method_set_view(request: HttpRequest, coverage: str) -> HttpResponse:
    _method_view(request, coverage)
    form = MethodForm(request.POST)
    setting = _submit(form, services.method_set, user=request_user(request), coverage=coverage)
    if setting is not None:
        if form.cleaned_data["method"] == PaymentMethodKind.BANK_DEBIT and setting.method != "bank_debit":
            messages.info(request, _("The switch to bank direct debit has been requested. It takes about 2 "
                                     "months; until then you pay by invoice."))
        else:
            messages.success(request, _("The payment method has been changed to %(method)s.")
                             % {"method": setting.get_method_display()})
        return redirect("payments:method", coverage=coverage)
    return _coverage_page(request, coverage, method_form=form, status=400)


@tenant_user_required
@require_POST
def apply_view(request: HttpRequest, coverage: str) -> HttpResponse:
    _method_view(request, coverage)
    form = ApplicationForm(request.POST)
    if _submit(form, services.invoice_apply, user=request_user(request), coverage=coverage) is not None:
        messages.success(request, _("Your application for invoice payment has been sent. The operator reviews "
                                    "it (credit check) and tells you the result by email."))
        return redirect("payments:method", coverage=coverage)
    return _coverage_page(request, coverage, app_form=form, status=400)


@tenant_user_required
@never_cache
@require_GET
def history_view(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    coverage = request.GET.get("coverage") or None
    try:
        rows = services.payment_history(user=user, coverage=coverage)
    except NotFound:
        coverage, rows = None, services.payment_history(user=user)
    return render(request, "payments/history.html", {
        "rows": rows, "coverage": coverage, "can_manage": can(user=user, action=actions.PAYMENT_MANAGE),
        "coverages": [(c, Coverage(c).label) for c in user.tenant.coverages],  # type: ignore[union-attr]
    })


@tenant_user_required
@never_cache
@require_GET
def invoice_view(request: HttpRequest, invoice_id: int) -> HttpResponse:
    user = request_user(request)
    try:
        invoice, can_retry = services.invoice_payments(user=user, invoice_id=invoice_id)
    except NotFound as exc:
        raise Http404 from exc
    view = services.method_view(user=user, coverage=invoice.coverage)
    return render(request, "payments/invoice.html", {
        "invoice": invoice, "can_retry": can_retry, "view": view,
        "payments": invoice.payments.order_by("-created_at", "-id"),
        "can_manage": can(user=user, action=actions.PAYMENT_MANAGE),
    })


@tenant_user_required
@require_POST
def retry_view(request: HttpRequest, invoice_id: int) -> HttpResponse:
    try:
        payment = services.invoice_retry(user=request_user(request), invoice_id=invoice_id, channel="web")
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        if exc.code == ErrorCode.PERMISSION_DENIED:
            raise  # the 403 page
        messages.error(request, str(exc.message))
    else:
        if payment.status == "succeeded":
            messages.success(request, _("The payment succeeded. The invoice is paid."))
        else:
            messages.error(request, _("The payment failed: %(reason)s Update the card and try again.")
                           % {"reason": payment.failure_label or payment.get_status_display()})
    return redirect("payments:invoice", invoice_id=invoice_id)


def _contacts_page(request: HttpRequest, *, add_form: EmailForm | None = None,
                   recovery_form: RecoveryForm | None = None, status: int = 200) -> HttpResponse:
    user = request_user(request)
    view = services.contacts_view(user=user)
    return render(request, "payments/contacts.html", {
        "c": view, "add_form": add_form or EmailForm(),
        "recovery_form": recovery_form or RecoveryForm(initial={"email": view.recovery_email}),
        "can_manage": can(user=user, action=actions.PAYMENT_MANAGE), "profile_url": _profile_url(),
        "full": len(view.billing_emails) >= view.max_billing_emails,
    }, status=status)


@tenant_user_required
@never_cache
@require_GET
def contacts_view(request: HttpRequest) -> HttpResponse:
    return _contacts_page(request)


@tenant_user_required
@require_POST
def contact_add_view(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST)
    if _submit(form, services.billing_email_add, user=request_user(request)) is not None:
        messages.success(request, _("The billing email address has been added."))
        return redirect("payments:contacts")
    return _contacts_page(request, add_form=form, status=400)


@tenant_user_required
@require_POST
def contact_remove_view(request: HttpRequest, email_id: int) -> HttpResponse:
    try:
        services.billing_email_remove(user=request_user(request), email_id=email_id)
    except NotFound as exc:
        raise Http404 from exc
    messages.success(request, _("The billing email address has been removed."))
    return redirect("payments:contacts")


@tenant_user_required
@require_POST
def recovery_view(request: HttpRequest) -> HttpResponse:
    form = RecoveryForm(request.POST)
    if _submit(form, services.recovery_email_set, user=request_user(request)) is not None:
        messages.success(request, _("The recovery email address has been saved."))
        return redirect("payments:contacts")
    return _contacts_page(request, recovery_form=form, status=400)


