"""Roles, line tags, approvals and API-key permissions on the web (issue 5 §1, §6).

The pages call the services of ``kaisen.access.services`` only; each service checks the action itself, and a
user who forces a page they may not use gets the 403 page (``ActionDenied`` is a ``PermissionDenied``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kaisen.access import actions as a
from kaisen.access import services as s
from kaisen.access.models import ApprovalStatus, Effect, Role, TagKind
from kaisen.access.procedures import procedures
from kaisen.access.web import action_required
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.web import request_tenant, request_user, tenant_user_required

role_manager_required = action_required(a.ROLE_MANAGE)


def _actions_table() -> list[dict[str, Any]]:
    """The catalogue grouped by resource, for the statement editor."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, text in a.ACTIONS.items():
        groups.setdefault(name.split(":")[0], []).append({"name": name, "text": text})
    return [{"resource": r, "actions": items} for r, items in groups.items()]


def _role_rows(roles: list[Role]) -> list[dict[str, Any]]:
    return [{"role": r, "label": s.role_label(r), "description": s.role_description(r),
             "statements": s.role_statements(r), "tags": list(r.line_tags.all()) if not r.is_builtin else [],
             "holders": r.assignments.filter(tenant_id__isnull=False).count() if not r.is_builtin else None}
            for r in roles]


@role_manager_required
def index_view(request: HttpRequest) -> HttpResponse:
    """Roles and permissions: the roles, who holds what, and the approval setting."""
    from kaisen.accounts.selectors import user_list

    tenant, user = request_tenant(request), request_user(request)
    roles = s.role_list(tenant=tenant, user=user)
    users = []
    for member in user_list(tenant=tenant):
        data = s.user_access(tenant=tenant, user=member, actor=user)
        users.append({"user": member, "roles": [s.role_label(r) for r in data["roles"]],
                      "tags": data["line_tags"], "statements": data["statements"]})
    return render(request, "access/index.html", {
        "roles": _role_rows(roles), "users": users, "settings": s.access_settings_get(tenant=tenant),
        "pending": len(s.approval_list(tenant=tenant, user=user, status=ApprovalStatus.PENDING)),
    })


@role_manager_required
@require_POST
def settings_view(request: HttpRequest) -> HttpResponse:
    s.access_settings_update(actor=request_user(request),
                             approval_required=request.POST.get("approval_required") == "1")
    messages.success(request, _("The approval setting was saved."))
    return redirect("access:index")


def _statements_from_post(request: HttpRequest) -> list[tuple[str, str]]:
    statements = []
    for name in a.ACTIONS:
        effect = request.POST.get(f"effect:{name}", "")
        if effect in Effect.values:
            statements.append((effect, name))
    for raw in request.POST.get("patterns", "").splitlines():
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise DomainError(ErrorCode.INVALID_ACTION,
                              _("Write each extra statement as “allow Line:*” or “deny *”: %(line)s")
                              % {"line": raw.strip()}, field="patterns")
        statements.append((parts[0].lower(), parts[1]))
    return statements


def _editor_context(role: Role | None, statements: list[tuple[str, str]], tenant: Any) -> dict[str, Any]:
    chosen = {p: e for e, p in statements if p in a.ACTIONS}
    extra = "\n".join(f"{e} {p}" for e, p in statements if p not in a.ACTIONS)
    table = _actions_table()
    for group in table:
        for item in group["actions"]:
            item["effect"] = chosen.get(item["name"], "")
    return {"role": role, "table": table, "extra": extra, "tags": s.tag_list(tenant=tenant),
            "chosen_tags": {t.pk for t in role.line_tags.all()} if role is not None and role.pk else set()}


@role_manager_required
@require_http_methods(["GET", "POST"])
def role_create_view(request: HttpRequest) -> HttpResponse:
    tenant, user = request_tenant(request), request_user(request)
    error: Any = None
    statements: list[tuple[str, str]] = []
    values: dict[str, Any] = {"name": "", "description": "", "requires_approval": False}
    if request.method == "POST":
        values = {"name": request.POST.get("name", ""), "description": request.POST.get("description", ""),
                  "requires_approval": request.POST.get("requires_approval") == "1"}
        try:
            statements = _statements_from_post(request)
            role = s.role_create(actor=user, name=values["name"], description=values["description"],
                                 statements=statements, requires_approval=values["requires_approval"],
                                 tag_ids=[int(t) for t in request.POST.getlist("tags") if t.isdigit()])
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise
            error = exc.message
        else:
            messages.success(request, _("The role “%(name)s” was created.") % {"name": role.name})
            return redirect("access:role_detail", role_id=role.pk)
    return render(request, "access/role_form.html", {**_editor_context(None, statements, tenant), "values": values,
                                                     "error": error}, status=400 if error else 200)


@role_manager_required
@require_http_methods(["GET", "POST"])
def role_detail_view(request: HttpRequest, role_id: int) -> HttpResponse:
    tenant, user = request_tenant(request), request_user(request)
    try:
        role = s.role_get(tenant=tenant, role_id=role_id, user=user)
    except NotFound as exc:
        raise Http404 from exc
    statements = s.role_statements(role)
    values: dict[str, Any] = {"name": s.role_label(role), "description": s.role_description(role),
                              "requires_approval": role.requires_approval}
    error: Any = None
    if request.method == "POST":
        values = {"name": request.POST.get("name", ""), "description": request.POST.get("description", ""),
                  "requires_approval": request.POST.get("requires_approval") == "1"}
        try:
            statements = _statements_from_post(request)
            s.role_update(actor=user, role_id=role.pk, name=values["name"], description=values["description"],
                          statements=statements, requires_approval=values["requires_approval"],
                          tag_ids=[int(t) for t in request.POST.getlist("tags") if t.isdigit()])
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED and not role.is_builtin:
                raise
            error = exc.message
        else:
            messages.success(request, _("The role was saved."))
            return redirect("access:role_detail", role_id=role.pk)
    holders = [ra.user for ra in role.assignments.filter(tenant=tenant).select_related("user")]
    return render(request, "access/role_form.html", {
        **_editor_context(role, statements, tenant), "values": values, "error": error, "holders": holders,
        "builtin": role.is_builtin}, status=400 if error else 200)


@role_manager_required
@require_POST
def role_delete_view(request: HttpRequest, role_id: int) -> HttpResponse:
    try:
        role = s.role_get(tenant=request_tenant(request), role_id=role_id, user=request_user(request))
        s.role_delete(actor=request_user(request), role_id=role.pk)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        if exc.code == ErrorCode.PERMISSION_DENIED and not getattr(exc, "action", None):
            messages.error(request, str(exc.message))
            return redirect("access:role_detail", role_id=role_id)
        raise
    messages.success(request, _("The role was deleted."))
    return redirect("access:index")


@role_manager_required
@require_http_methods(["GET", "POST"])
def user_access_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """One user's roles, line limit and own statements."""
    from kaisen.accounts.selectors import user_get

    tenant, actor = request_tenant(request), request_user(request)
    try:
        member = user_get(tenant=tenant, user_id=user_id)
    except NotFound as exc:
        raise Http404 from exc
    error: Any = None
    if request.method == "POST":
        try:
            role_ids = [int(r) for r in request.POST.getlist("roles") if r.isdigit()]
            tag_ids = [int(t) for t in request.POST.getlist("tags") if t.isdigit()]
            statements = _statements_from_post(request)
            from django.db import transaction

            with transaction.atomic():
                s.user_roles_set(actor=actor, user_id=member.pk, roles=role_ids)
                s.user_line_limits_set(actor=actor, user_id=member.pk, tag_ids=tag_ids)
                s.user_statements_set(actor=actor, user_id=member.pk, statements=statements)
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise
            error = exc.message
        else:
            messages.success(request, _("The access of %(user)s was saved.") % {"user": member.username})
            return redirect("access:user_access", user_id=member.pk)
    data = s.user_access(tenant=tenant, user=member, actor=actor)
    held = {r.pk for r in data["roles"]}
    roles = [{"role": r, "label": s.role_label(r), "description": s.role_description(r), "held": r.pk in held}
             for r in s.role_list(tenant=tenant, user=actor)]
    return render(request, "access/user_access.html", {
        **_editor_context(None, list(data["statements"]), tenant), "member": member, "roles": roles,
        "chosen_tags": {t.pk for t in data["line_tags"]}, "error": error,
        "allowed": s.allowed_actions(user=member) if not member.is_root else list(a.ACTIONS),
    }, status=400 if error else 200)


# --- line tags ------------------------------------------------------------------------------------------------

@action_required(a.LINE_TAG)
@require_http_methods(["GET", "POST"])
def tags_view(request: HttpRequest) -> HttpResponse:
    """The tenant's tags; create one; tag many lines from a CSV."""
    tenant, user = request_tenant(request), request_user(request)
    error: Any = None
    results = None
    if request.method == "POST":
        try:
            if request.POST.get("do") == "import":
                upload = request.FILES.get("file")
                if upload is None or (upload.size or 0) > 2 * 1024 * 1024:
                    raise DomainError(ErrorCode.INVALID_CSV, _("Choose a CSV file of at most 2 MB."), field="file")
                results = s.line_tags_import(actor=user, csv_bytes=upload.read())
            else:
                tag = s.tag_create(actor=user, kind=request.POST.get("kind", ""), name=request.POST.get("name", ""))
                messages.success(request, _("The tag “%(tag)s” was created.") % {"tag": tag.name})
                return redirect("access:tags")
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise
            error = exc.message
    tags = [{"tag": t, "lines": t.taggings.count(), "limits": t.user_limits.count() + t.roles.count()}
            for t in s.tag_list(tenant=tenant, user=user)]
    return render(request, "access/tags.html", {"tags": tags, "kinds": TagKind.choices, "error": error,
                                                "results": results}, status=400 if error else 200)


@action_required(a.LINE_TAG)
@require_POST
def tag_delete_view(request: HttpRequest, tag_id: int) -> HttpResponse:
    try:
        s.tag_delete(actor=request_user(request), tag_id=tag_id)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        if exc.code == ErrorCode.PERMISSION_DENIED:
            raise
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The tag was deleted."))
    return redirect("access:tags")


@tenant_user_required
@require_http_methods(["GET", "POST"])
def line_tags_view(request: HttpRequest, line_id: int) -> HttpResponse:
    from kaisen.lines.selectors import line_get

    tenant, user = request_tenant(request), request_user(request)
    try:
        line = line_get(tenant=tenant, line_id=line_id, user=user)
    except NotFound as exc:
        raise Http404 from exc
    s.authorize(user=user, action=a.LINE_TAG)
    if request.method == "POST":
        s.line_tags_set(actor=user, line_id=line.pk, tags=[int(t) for t in request.POST.getlist("tags") if t.isdigit()])
        messages.success(request, _("The tags of the line were saved."))
        return redirect("lines:detail", pk=line.pk)
    chosen = {t.pk for t in s.line_tags_of(tenant=tenant, line=line, user=user)}
    return render(request, "access/line_tags.html", {"line": line, "tags": s.tag_list(tenant=tenant, user=user),
                                                     "chosen": chosen})


# --- approvals ------------------------------------------------------------------------------------------------

@tenant_user_required
def approvals_view(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", ApprovalStatus.PENDING)
    status = status if status in ApprovalStatus.values or status == "" else ApprovalStatus.PENDING
    tenant, user = request_tenant(request), request_user(request)
    items = s.approval_list(tenant=tenant, user=user, status=status)
    return render(request, "access/approvals.html", {
        "items": items, "status": status, "statuses": ApprovalStatus.choices,
        "may_decide": s.can(user=user, action=a.APPROVAL_DECIDE),
    })


@tenant_user_required
@require_http_methods(["GET", "POST"])
def approval_detail_view(request: HttpRequest, approval_id: int) -> HttpResponse:
    tenant, user = request_tenant(request), request_user(request)
    if request.method == "POST" and request.POST.get("decision") in ("approve", "reject"):
        s.authorize(user=user, action=a.APPROVAL_DECIDE)  # a forced decision: the 403 page
    try:
        req = s.approval_get(tenant=tenant, user=user, approval_id=approval_id)
    except NotFound as exc:
        raise Http404 from exc
    error: Any = None
    status = 200
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            if decision == "withdraw":
                s.approval_withdraw(tenant=tenant, user=user, approval_id=req.pk)
            elif decision in ("approve", "reject"):
                s.approval_decide(tenant=tenant, user=user, approval_id=req.pk, approve=decision == "approve",
                                  note=request.POST.get("note", "")[:500])
            else:
                raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose approve, reject or withdraw."))
        except DomainError as exc:
            error, status = exc.message, exc.http_status
        else:
            messages.success(request, {"approve": _("Approved: the order was submitted."),
                                       "reject": _("Rejected: nothing was ordered."),
                                       "withdraw": _("The request was withdrawn.")}[decision])
            return redirect("access:approval_detail", approval_id=req.pk)
        req = s.approval_get(tenant=tenant, user=user, approval_id=approval_id)
    mine = req.requested_by_id == user.pk
    pending = req.status == ApprovalStatus.PENDING
    may_decide = (pending and not mine and s.can(user=user, action=a.APPROVAL_DECIDE)
                  and s.can(user=user, action=a.order_kind_action(req.kind)))
    return render(request, "access/approval_detail.html", {
        "req": req, "kind_label": req.kind_label, "rows": procedures().param_rows(req.kind, req.params, None),
        "may_decide": may_decide, "may_withdraw": pending and mine, "error": error, "mine": mine,
    }, status=status)


# --- API-key permissions --------------------------------------------------------------------------------------

@tenant_user_required
@require_http_methods(["GET", "POST"])
def api_key_permissions_view(request: HttpRequest, key_id: str) -> HttpResponse:
    user = request_user(request)
    s.authorize(user=user, action=a.APIKEY_MANAGE)
    try:
        key = s.api_key_own(user=user, key_id=key_id)
    except NotFound as exc:
        raise Http404 from exc
    if request.method == "POST":
        narrowed = request.POST.get("mode") == "narrow"
        chosen = [name for name in request.POST.getlist("actions") if name in a.ACTIONS]
        s.api_key_actions_set(user=user, key_id=key.key_id, actions=chosen if narrowed else None)
        messages.success(request, _("The permissions of the key were saved."))
        return redirect("accounts:api_keys")
    current = s.api_key_actions(api_key=key)
    mine = set(s.allowed_actions(user=user))
    rows = [{"name": name, "text": text, "mine": name in mine,
             "checked": current is not None and any(a.pattern_matches(p, name) for p in current)}
            for name, text in a.ACTIONS.items()]
    return render(request, "access/api_key_permissions.html",
                  {"key": key, "rows": rows, "narrowed": current is not None, "current": current})


def permission_denied_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 403 page (``handler403``): names the missing permission when the refusal says which, as the API's
    403 does (issue 14)."""
    action = getattr(exception, "action", None)
    label = a.ACTIONS.get(action) if action else None
    return render(request, "403.html", {"action": action, "action_label": label}, status=403)
