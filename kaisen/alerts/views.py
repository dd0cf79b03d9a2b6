"""The "Usage alerts" and "Webhooks" pages (issue 13 §5)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kaisen.access import actions as a
from kaisen.access.services import can, tag_list
from kaisen.access.web import action_required
from kaisen.alerts import budgets, services
from kaisen.alerts.models import Action, Condition, RuleScope
from kaisen.billing.charges import forecasts_for_user
from kaisen.carriers.models import Coverage
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.web import request_tenant, request_user
from kaisen.events import catalogue


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 19 else None


def _domain(exc: DomainError) -> Any:
    if exc.code == ErrorCode.PERMISSION_DENIED:
        raise exc
    if isinstance(exc, NotFound):
        raise Http404 from exc
    return exc.message


@action_required(a.ALERT_READ)
@require_http_methods(["GET", "POST"])
def index_view(request: HttpRequest) -> HttpResponse:
    tenant, user = request_tenant(request), request_user(request)
    error: Any = None
    if request.method == "POST":
        do = request.POST.get("do", "")
        try:
            if do == "create":
                services.rule_create(user=user, name=request.POST.get("name", ""),
                                     scope=request.POST.get("scope", ""), condition=request.POST.get("condition", ""),
                                     threshold=request.POST.get("threshold", ""),
                                     rule_actions=request.POST.getlist("actions"),
                                     tag_id=_id(request.POST.get("tag_id")), line_id=_id(request.POST.get("line_id")))
                messages.success(request, _("The alert rule was added."))
            elif do in ("enable", "disable"):
                services.rule_set_enabled(user=user, rule_id=_id(request.POST.get("rule_id")) or 0,
                                          enabled=do == "enable")
            elif do == "delete":
                services.rule_delete(user=user, rule_id=_id(request.POST.get("rule_id")) or 0)
                messages.success(request, _("The alert rule was removed."))
            elif do == "budget":
                if not can(user=user, action=a.ALERT_MANAGE):
                    raise DomainError(ErrorCode.PERMISSION_DENIED)
                budgets.budget_set(tenant=tenant, user=user, coverage=request.POST.get("coverage", ""),
                                   amount=request.POST.get("amount", "").strip())
                messages.success(request, _("The budget was saved."))
            else:
                raise DomainError(ErrorCode.VALIDATION_ERROR)
            return redirect("alerts:index")
        except DomainError as exc:
            error = _domain(exc)
    limits = {b.coverage: b.amount for b in budgets.budget_list(tenant=tenant)}
    projections = []
    if can(user=user, action=a.BILLING_READ):
        projections = [{"f": f, "budget": limits.get(f.coverage),
                        "over": f.coverage in limits and f.projected > limits[f.coverage]}
                       for f in forecasts_for_user(tenant=tenant, user=user)]
    return render(request, "alerts/index.html", {
        "rules": services.rule_list(user=user), "firings": services.firing_list(user=user, limit=50),
        "may_manage": can(user=user, action=a.ALERT_MANAGE), "conditions": Condition.choices,
        "scopes": RuleScope.choices, "actions": Action.choices, "tags": tag_list(tenant=tenant, user=user),
        "projections": projections, "budgets": limits, "coverages": Coverage.choices, "error": error,
        "form": request.POST if error else {},
    }, status=400 if error else 200)


@action_required(a.WEBHOOK_MANAGE)
@require_http_methods(["GET", "POST"])
def webhooks_view(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    error: Any = None
    if request.method == "POST":
        try:
            endpoint = services.endpoint_create(user=user, url=request.POST.get("url", ""),
                                                event_types=request.POST.getlist("event_types"),
                                                description=request.POST.get("description", ""))
            messages.success(request, _("The endpoint was added. Keep its signing secret to verify what it receives."))
            return redirect("alerts:webhook", endpoint_id=endpoint.pk)
        except DomainError as exc:
            error = _domain(exc)
    return render(request, "alerts/webhooks.html", {
        "endpoints": services.endpoint_list(user=user), "error": error,
        "event_types": [e for e in catalogue.EVENT_TYPES.values() if e.name in catalogue.SUBSCRIBABLE],
        "form": request.POST if error else {},
    }, status=400 if error else 200)


@action_required(a.WEBHOOK_MANAGE)
@require_http_methods(["GET", "POST"])
def webhook_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    user = request_user(request)
    try:
        endpoint = services.endpoint_get(user=user, endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404 from exc
    error: Any = None
    if request.method == "POST":
        do = request.POST.get("do", "")
        try:
            if do == "test":
                delivery = services.endpoint_ping(user=user, endpoint_id=endpoint.pk)
                if delivery.status == "succeeded":
                    messages.success(request, _("The test ping was delivered."))
                else:
                    messages.error(request, _("The test ping was not delivered; see the log below."))
            elif do == "rotate":
                hours = _id(request.POST.get("overlap_hours"))
                services.endpoint_rotate(user=user, endpoint_id=endpoint.pk, overlap_hours=24 if hours is None
                                         else hours)
                messages.success(request, _("A new secret was made; the old one also signs during the overlap."))
            elif do in ("enable", "disable"):
                services.endpoint_update(user=user, endpoint_id=endpoint.pk, enabled=do == "enable")
            elif do == "redeliver":
                services.delivery_redeliver(user=user, delivery_id=_id(request.POST.get("delivery_id")) or 0)
                messages.success(request, _("The event was sent again."))
            elif do == "delete":
                services.endpoint_delete(user=user, endpoint_id=endpoint.pk)
                messages.success(request, _("The endpoint was removed."))
                return redirect("alerts:webhooks")
            else:
                raise DomainError(ErrorCode.VALIDATION_ERROR)
            return redirect("alerts:webhook", endpoint_id=endpoint.pk)
        except DomainError as exc:
            error = _domain(exc)
    deliveries = services.delivery_list(user=user, endpoint_id=endpoint.pk, limit=50)
    return render(request, "alerts/webhook.html", {
        "endpoint": endpoint, "error": error,
        "deliveries": [(d, list(d.log.order_by("-id")[:5])) for d in deliveries],
        "labels": {e.name: e.label for e in catalogue.EVENT_TYPES.values()},
    }, status=400 if error else 200)
