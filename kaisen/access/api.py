"""Roles, policies, line tags, approvals and API-key permissions over the API (issue 5 §1, §6).

Every route is tenant-scoped: another tenant's role, tag, user, line or approval answers 404 ``NOT_FOUND``.
A missing permission answers 403 ``{"code": "PERMISSION_DENIED", "message", "action"}``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import StrictBool

from kaisen.access import actions as a
from kaisen.access import services as s
from kaisen.access.models import ApprovalRequest, LineTag, Role
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import Id
from kaisen.core.schemas import ErrorOut, PathText, one_of, trimmed_pattern

router = Router(tags=["access"])


class DeniedOut(Schema):
    code: str
    message: str
    action: str | None = None


class ActionOut(Schema):
    action: str
    description: str


if TYPE_CHECKING:
    ActionName = str
    ActionPattern = str
else:
    #: An action of the catalogue; in a statement also ``Resource:*`` or ``*`` (``actions.pattern_valid``).
    ActionName = one_of(sorted(a.ACTIONS))
    ActionPattern = one_of(["*", *sorted(a.ACTIONS), *sorted(f"{r}:*" for r in a.RESOURCES)],
                           refusal=lambda value: DomainError(
                               ErrorCode.INVALID_ACTION,
                               _("'%(action)s' is not an action: use a name of the catalogue, Resource:* or *.")
                               % {"action": value}, field="statements"))


class StatementIO(Schema):
    effect: Literal["allow", "deny"]
    action: ActionPattern = Field(description="An action of `GET /access/actions`, `Resource:*` or `*`.", max_length=64)


class TagOut(Schema):
    id: int
    kind: str
    name: str
    label: str = Field(description="`kind:name`, as the tag is named in CSV files and the CLI.")


class RoleOut(Schema):
    id: int
    name: str
    builtin: bool
    key: str
    description: str
    requires_approval: bool
    statements: list[StatementIO]
    line_tags: list[TagOut]


class RoleIn(Schema):
    name: str = Field(max_length=100, json_schema_extra={"pattern": trimmed_pattern(100)})
    description: str = Field("", max_length=300)
    statements: list[StatementIO] = []
    requires_approval: StrictBool = False
    line_tag_ids: list[Id] = []


class RolePatch(Schema):
    name: str | None = Field(None, max_length=100, json_schema_extra={"pattern": trimmed_pattern(100)})
    description: str | None = Field(None, max_length=300)
    statements: list[StatementIO] | None = None
    requires_approval: StrictBool | None = None
    line_tag_ids: list[Id] | None = None


class AccessMeOut(Schema):
    is_root: bool
    roles: list[str]
    actions: list[str] = Field(description="Every action this request may perform (with its API key's limit).")
    line_limited: bool
    line_tags: list[TagOut]
    api_key_actions: list[str] | None = Field(description="The narrowing of the API key of this request, if any.")


class CheckOut(Schema):
    action: str
    allowed: bool


class UserAccessOut(Schema):
    user_id: int
    roles: list[RoleOut]
    statements: list[StatementIO]
    line_tags: list[TagOut]


class RolesIn(Schema):
    roles: list[Id | str] = Field(description="Role IDs, built-in keys (administrator, operations, accounting, "
                                               "read_only) or custom role names.")


class StatementsIn(Schema):
    statements: list[StatementIO]


class TagRefsIn(Schema):
    tags: list[Id | str] = Field(description="Tag IDs or `kind:name`.")


class TagIn(Schema):
    kind: Literal["department", "cost_centre", "group"]
    name: str = Field(max_length=50, json_schema_extra={"pattern": trimmed_pattern(50)})


class LineTagsOut(Schema):
    line_id: int
    tags: list[TagOut]


class TagImportRowOut(Schema):
    row: int
    line: str
    ok: bool
    code: str
    message: str
    tags: list[str]


class SettingsIO(Schema):
    approval_required: StrictBool


class KeyPermissionsIO(Schema):
    actions: list[str] | None = Field(description="Allowed action patterns; null: the key may do what its user may.")


class ApprovalOut(Schema):
    id: int
    status: str
    kind: str
    line_id: int
    msisdn: str | None
    params: dict[str, Any]
    requested_by: str
    reason: str
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    order_id: int | None
    created_at: dt.datetime


class DecisionIn(Schema):
    note: str = Field("", max_length=500)


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _tenant(request: HttpRequest) -> Any:
    return _user(request).tenant


def tag_out(tag: LineTag) -> dict[str, Any]:
    return {"id": tag.pk, "kind": tag.kind, "name": tag.name, "label": tag.label}


def role_out(role: Role) -> dict[str, Any]:
    return {"id": role.pk, "name": s.role_label(role), "builtin": role.is_builtin, "key": role.key,
            "description": s.role_description(role), "requires_approval": role.requires_approval,
            "statements": [{"effect": e, "action": p} for e, p in s.role_statements(role)],
            "line_tags": [tag_out(t) for t in role.line_tags.all()] if not role.is_builtin else []}


def approval_out(req: ApprovalRequest) -> dict[str, Any]:
    return {"id": req.pk, "status": req.status, "kind": req.kind, "line_id": req.line_id,
            "msisdn": req.line.msisdn, "params": req.params, "requested_by": req.requested_by.username,
            "reason": req.reason, "decided_by": req.decided_by.username if req.decided_by else None,
            "decided_at": req.decided_at, "decision_note": req.decision_note, "order_id": req.order_id,
            "created_at": req.created_at}


# --- the caller's own permissions ---------------------------------------------------------------------------

@router.get("/access/actions", response=list[ActionOut], summary="The catalogue of actions policies name")
def action_catalogue(request: HttpRequest) -> list[dict[str, str]]:
    return [{"action": name, "description": str(text)} for name, text in a.ACTIONS.items()]


@router.get("/access/me", response=AccessMeOut, summary="What this request may do: roles, actions, line limit")
def access_me(request: HttpRequest) -> dict[str, Any]:
    user = _user(request)
    eff = s.effective(user)
    limited = s.is_line_limited(user=user)
    return {"is_root": user.is_root, "roles": [s.role_label(r) for r in eff.roles],
            "actions": s.allowed_actions(user=user), "line_limited": limited,
            "line_tags": [tag_out(t) for t in s.tag_list(tenant=user.tenant, user=user)] if limited else [],
            "api_key_actions": list(eff.key_actions) if eff.key_actions is not None else None}


@router.get("/access/check", response={200: CheckOut, 422: ErrorOut},
            summary="Whether this request may perform one action (no side effect)")
def access_check(request: HttpRequest,
                 action: ActionName = Query(..., max_length=64)) -> dict[str, Any]:  # noqa: B008
    if action not in a.ACTIONS:
        from kaisen.core.errors import DomainError, ErrorCode

        raise DomainError(ErrorCode.INVALID_ACTION, field="action")
    return {"action": action, "allowed": s.can(user=_user(request), action=action)}


# --- roles ---------------------------------------------------------------------------------------------------

@router.get("/roles", response={200: list[RoleOut], 403: DeniedOut},
            summary="Built-in and custom roles with their statements (Role:manage)")
def roles(request: HttpRequest) -> list[dict[str, Any]]:
    return [role_out(r) for r in s.role_list(tenant=_tenant(request), user=_user(request))]


@router.post("/roles", response={201: RoleOut, 403: DeniedOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
             summary="Create a custom role (Role:manage)")
def role_new(request: HttpRequest, payload: RoleIn) -> Status[dict[str, Any]]:
    role = s.role_create(actor=_user(request), name=payload.name, description=payload.description,
                         statements=[st.model_dump() for st in payload.statements],
                         requires_approval=payload.requires_approval, tag_ids=payload.line_tag_ids)
    return Status(201, role_out(s.role_get(tenant=_tenant(request), role_id=role.pk)))


@router.get("/roles/{int:role_id}", response={200: RoleOut, 403: DeniedOut, 404: ErrorOut},
            summary="One role (Role:manage)")
def role_detail(request: HttpRequest, role_id: Id) -> dict[str, Any]:
    return role_out(s.role_get(tenant=_tenant(request), role_id=role_id, user=_user(request)))


@router.patch("/roles/{int:role_id}", response={200: RoleOut, 403: DeniedOut, 404: ErrorOut, 409: ErrorOut,
                                                422: ErrorOut},
              summary="Change a custom role; the fields given replace the old ones (Role:manage)")
def role_patch(request: HttpRequest, role_id: Id, payload: RolePatch) -> dict[str, Any]:
    role = s.role_update(actor=_user(request), role_id=role_id, name=payload.name, description=payload.description,
                         statements=[st.model_dump() for st in payload.statements]
                         if payload.statements is not None else None,
                         requires_approval=payload.requires_approval, tag_ids=payload.line_tag_ids)
    return role_out(role)


@router.delete("/roles/{int:role_id}", response={204: None, 403: DeniedOut, 404: ErrorOut},
               summary="Delete a custom role; its holders lose it (Role:manage)")
def role_remove(request: HttpRequest, role_id: Id) -> Status[None]:
    s.role_delete(actor=_user(request), role_id=role_id)
    return Status(204, None)


# --- a user's access -----------------------------------------------------------------------------------------

def _user_access_out(request: HttpRequest, user_id: Id) -> dict[str, Any]:
    from kaisen.accounts.selectors import user_get

    target = user_get(tenant=_tenant(request), user_id=user_id)
    data = s.user_access(tenant=_tenant(request), user=target, actor=_user(request))
    return {"user_id": target.pk, "roles": [role_out(r) for r in data["roles"]],
            "statements": [{"effect": e, "action": p} for e, p in data["statements"]],
            "line_tags": [tag_out(t) for t in data["line_tags"]]}


@router.get("/users/{int:user_id}/access", response={200: UserAccessOut, 403: DeniedOut, 404: ErrorOut},
            summary="A user's roles, own statements and line limit (Role:manage, or the user themselves)")
def user_access(request: HttpRequest, user_id: Id) -> dict[str, Any]:
    return _user_access_out(request, user_id)


@router.put("/users/{int:user_id}/roles", response={200: UserAccessOut, 403: DeniedOut, 404: ErrorOut,
                                                    422: ErrorOut},
            summary="Give a user exactly these roles (Role:manage)")
def user_roles(request: HttpRequest, user_id: Id, payload: RolesIn) -> dict[str, Any]:
    s.user_roles_set(actor=_user(request), user_id=user_id, roles=payload.roles)
    return _user_access_out(request, user_id)


@router.put("/users/{int:user_id}/statements", response={200: UserAccessOut, 403: DeniedOut, 404: ErrorOut,
                                                         422: ErrorOut},
            summary="Attach these allow/deny statements to a user directly (Role:manage)")
def user_statements(request: HttpRequest, user_id: Id, payload: StatementsIn) -> dict[str, Any]:
    s.user_statements_set(actor=_user(request), user_id=user_id,
                          statements=[st.model_dump() for st in payload.statements])
    return _user_access_out(request, user_id)


@router.put("/users/{int:user_id}/line-tags", response={200: UserAccessOut, 403: DeniedOut, 404: ErrorOut,
                                                        422: ErrorOut},
            summary="Limit a user to the lines carrying one of these tags; [] lifts their own limit (Role:manage)")
def user_line_tags(request: HttpRequest, user_id: Id, payload: TagRefsIn) -> dict[str, Any]:
    tags = [s._tag_by_ref(_tenant(request), t) for t in payload.tags]
    s.user_line_limits_set(actor=_user(request), user_id=user_id, tag_ids=[t.pk for t in tags])
    return _user_access_out(request, user_id)


# --- line tags -----------------------------------------------------------------------------------------------

@router.get("/line-tags", response=list[TagOut], summary="The tenant's line tags (a line-limited user: theirs)")
def line_tags(request: HttpRequest) -> list[dict[str, Any]]:
    return [tag_out(t) for t in s.tag_list(tenant=_tenant(request), user=_user(request))]


@router.post("/line-tags", response={201: TagOut, 403: DeniedOut, 409: ErrorOut, 422: ErrorOut},
             summary="Create a department, cost-centre or group tag (Line:tag)")
def line_tag_new(request: HttpRequest, payload: TagIn) -> Status[dict[str, Any]]:
    return Status(201, tag_out(s.tag_create(actor=_user(request), kind=payload.kind, name=payload.name)))


@router.delete("/line-tags/{int:tag_id}", response={204: None, 403: DeniedOut, 404: ErrorOut, 409: ErrorOut},
               summary="Delete a tag no user or role is limited to (Line:tag)")
def line_tag_remove(request: HttpRequest, tag_id: Id) -> Status[None]:
    s.tag_delete(actor=_user(request), tag_id=tag_id)
    return Status(204, None)


@router.post("/line-tags/import", response={200: list[TagImportRowOut], 400: ErrorOut, 403: DeniedOut,
                                             422: ErrorOut},
             summary="Tag many lines from a CSV `line,tags` (tags `kind:name` separated by `;`)",
             # An empty upload never reaches the view (Django drops a file part without content: 422): the
             # document says so (issue 14: schemathesis ``positive_data_acceptance``).
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {"properties": {
                 "file": {"minLength": 1, "description": "The CSV file, not empty, up to 2 MiB."}}}}}}})
def line_tags_import(request: HttpRequest, file: File[UploadedFile]) -> list[dict[str, Any]]:
    """Each row sets the line's tags (an empty cell removes them) and gets its own result; a line outside
    your lines is ``NOT_FOUND`` for that row. At most 10,000 rows."""
    from kaisen.core.errors import DomainError, ErrorCode

    if file.size is not None and file.size > 2 * 1024 * 1024:
        raise DomainError(ErrorCode.INVALID_CSV, field="file")
    rows = s.line_tags_import(actor=_user(request), csv_bytes=file.read())
    return [{"row": r.row, "line": r.line, "ok": r.ok, "code": r.code, "message": r.message, "tags": list(r.tags)}
            for r in rows]


@router.get("/lines/{int:line_id}/tags", response={200: LineTagsOut, 403: DeniedOut, 404: ErrorOut},
            summary="A line's tags")
def line_tags_get(request: HttpRequest, line_id: Id) -> dict[str, Any]:
    from kaisen.lines.selectors import line_get

    user = _user(request)
    line = line_get(tenant=_tenant(request), line_id=line_id, user=user)
    return {"line_id": line.pk, "tags": [tag_out(t) for t in s.line_tags_of(tenant=_tenant(request), line=line,
                                                                            user=user)]}


@router.put("/lines/{int:line_id}/tags", response={200: LineTagsOut, 403: DeniedOut, 404: ErrorOut, 422: ErrorOut},
            summary="Give a line exactly these tags (Line:tag)")
def line_tags_put(request: HttpRequest, line_id: Id, payload: TagRefsIn) -> dict[str, Any]:
    tags = s.line_tags_set(actor=_user(request), line_id=line_id, tags=payload.tags)
    return {"line_id": line_id, "tags": [tag_out(t) for t in tags]}


# --- tenant settings and API-key permissions --------------------------------------------------------------

@router.get("/access/settings", response={200: SettingsIO, 403: DeniedOut},
            summary="Whether destructive procedures need a second user's approval (Role:manage)")
def access_settings(request: HttpRequest) -> dict[str, Any]:
    s.authorize(user=_user(request), action=a.ROLE_MANAGE)
    return {"approval_required": s.access_settings_get(tenant=_tenant(request)).approval_required}


@router.put("/access/settings", response={200: SettingsIO, 403: DeniedOut, 422: ErrorOut},
            summary="Require (or not) approval of cancellation, port-out and plan change (Role:manage)")
def access_settings_put(request: HttpRequest, payload: SettingsIO) -> dict[str, Any]:
    row = s.access_settings_update(actor=_user(request), approval_required=payload.approval_required)
    return {"approval_required": row.approval_required}


@router.get("/api-keys/{key_id}/permissions", response={200: KeyPermissionsIO, 404: ErrorOut},
            tags=["api keys"], summary="The action list one of my API keys is narrowed to (null: none)")
def api_key_permissions(request: HttpRequest, key_id: PathText) -> dict[str, Any]:
    return {"actions": s.api_key_actions(api_key=s.api_key_own(user=_user(request), key_id=key_id))}


@router.put("/api-keys/{key_id}/permissions", response={200: KeyPermissionsIO, 403: DeniedOut, 404: ErrorOut,
                                                        422: ErrorOut},
            tags=["api keys"], summary="Narrow one of my API keys to these actions (never beyond mine)")
def api_key_permissions_put(request: HttpRequest, key_id: PathText, payload: KeyPermissionsIO) -> dict[str, Any]:
    return {"actions": s.api_key_actions_set(user=_user(request), key_id=key_id, actions=payload.actions)}


# --- approvals -----------------------------------------------------------------------------------------------

@router.get("/approvals", response={200: list[ApprovalOut], 400: ErrorOut, 422: ErrorOut}, tags=["approvals"],
            summary="Approval requests (Approval:decide: all on your lines; otherwise your own)")
def approvals(request: HttpRequest,
              status: Literal["", "pending", "approved", "rejected", "withdrawn"] = "") -> list[dict[str, Any]]:
    return [approval_out(r) for r in s.approval_list(tenant=_tenant(request), user=_user(request), status=status)]


@router.get("/approvals/{int:approval_id}", response={200: ApprovalOut, 404: ErrorOut}, tags=["approvals"],
            summary="One approval request")
def approval_detail(request: HttpRequest, approval_id: Id) -> dict[str, Any]:
    return approval_out(s.approval_get(tenant=_tenant(request), user=_user(request), approval_id=approval_id))


@router.post("/approvals/{int:approval_id}/approve", response={200: ApprovalOut, 400: ErrorOut, 403: DeniedOut,
                                                                404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
             tags=["approvals"], summary="Approve: the order is submitted now, once (Approval:decide)")
def approval_approve(request: HttpRequest, approval_id: Id, payload: DecisionIn) -> dict[str, Any]:
    return approval_out(s.approval_decide(tenant=_tenant(request), user=_user(request), approval_id=approval_id,
                                          approve=True, note=payload.note))


@router.post("/approvals/{int:approval_id}/reject", response={200: ApprovalOut, 403: DeniedOut, 404: ErrorOut,
                                                               409: ErrorOut, 422: ErrorOut},
             tags=["approvals"], summary="Reject: nothing is ordered (Approval:decide)")
def approval_reject(request: HttpRequest, approval_id: Id, payload: DecisionIn) -> dict[str, Any]:
    return approval_out(s.approval_decide(tenant=_tenant(request), user=_user(request), approval_id=approval_id,
                                          approve=False, note=payload.note))


@router.post("/approvals/{int:approval_id}/withdraw", response={200: ApprovalOut, 403: DeniedOut, 404: ErrorOut,
                                                                 409: ErrorOut},
             tags=["approvals"], summary="Withdraw your own pending request")
def approval_withdraw(request: HttpRequest, approval_id: Id) -> dict[str, Any]:
    return approval_out(s.approval_withdraw(tenant=_tenant(request), user=_user(request), approval_id=approval_id))
