"""Permission checks (issue 5 §1, §6). Services call these; no interface can bypass them.

Evaluation, for a user of a tenant and one action:

1. The tenant's root user may do everything, always (S-ACC-1).
2. Otherwise the user's statements are collected: the ones given to the user directly and the ones of each
   role assigned to them (built-in roles: ``kaisen.access.policies``; custom roles: stored statements).
3. A ``deny`` matching the action wins over any ``allow``; with no matching ``allow`` the answer is no. So a
   limited user with no role and no statement may do nothing but their own sign-in settings (password,
   sessions, two-step login, own username), which are not actions.
4. A request made with an API key is limited further to the key's action list, if it has one: the key may
   do what its user may AND what the key allows (``api_key_actions_set``). Evaluated on every request, so a
   permission the user loses is lost through their keys at once.

``user=None`` is the system itself (the scheduler, the engine, the back office): it is not limited. Every
interface passes the signed-in user.

Lines a user may see (``line_scope``): a user is *line-limited* when they, or any of their roles, carry line
tags; they then see only lines carrying at least one of those tags. A line outside answers 404 like a
line that does not exist (no existence leak).
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kaisen.access import actions as a
from kaisen.access.models import (
    AccessSettings,
    ApiKeyPermission,
    ApprovalRequest,
    ApprovalStatus,
    Effect,
    LineTag,
    LineTagging,
    PolicyStatement,
    Role,
    RoleAssignment,
    TagKind,
    UserLineLimit,
)
from kaisen.access.policies import BUILTIN_ROLES
from kaisen.access.procedures import procedures
from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.csvsafe import csv_text
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.ids import as_id
from kaisen.events import catalogue
from kaisen.events.services import event_emit

# --- the decision ---------------------------------------------------------------------------------------


class ActionDenied(DomainError, DjangoPermissionDenied):
    """``PERMISSION_DENIED`` naming the missing action. The API answers 403 ``{"code", "message",
    "action"}``; a web page that does not catch it answers Django's 403 page; the CLI prints it."""

    def __init__(self, action: str, message: Any = None) -> None:
        self.action = action
        super().__init__(ErrorCode.PERMISSION_DENIED, message or gettext_lazy(
            "You do not have permission to do this (%(action)s).") % {"action": action},
            details={"action": action})

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        body["action"] = self.action
        return body


#: Bumped by every change of roles, statements, tags, limits or key permissions in this process, so a
#: user object that cached its permissions during one request does not keep stale ones.
_GENERATION = [0]


def _changed() -> None:
    _GENERATION[0] += 1


@dataclass
class Effective:
    root: bool = False
    active: bool = True
    allows: tuple[str, ...] = ()
    denies: tuple[str, ...] = ()
    #: None: every line of the tenant (always for the root user); otherwise the tags whose lines the user may see.
    tag_ids: tuple[int, ...] | None = None
    #: None: the request is not limited by an API key's list.
    key_actions: tuple[str, ...] | None = None
    roles: list[Role] = field(default_factory=list)
    role_requires_approval: bool = False


def _key_id_of(user: Any) -> int | None:
    return getattr(user, "_kaisen_api_key_id", None)


def effective(user: Any) -> Effective:
    """What ``user`` may do in this request (cached on the user object for the request)."""
    cached = getattr(user, "_kaisen_access", None)
    if cached is not None and cached[0] == _GENERATION[0]:
        return cached[1]  # type: ignore[no-any-return]
    eff = _compute(user)
    with contextlib.suppress(AttributeError):  # a user object that takes no attributes: no cache
        user._kaisen_access = (_GENERATION[0], eff)
    return eff


def _compute(user: Any) -> Effective:
    if getattr(user, "tenant_id", None) is None or not getattr(user, "is_active", False):
        return Effective(active=False)
    key_actions: tuple[str, ...] | None = None
    key_id = _key_id_of(user)
    if key_id is not None:
        perm = ApiKeyPermission.objects.filter(api_key_id=key_id).values_list("actions", flat=True).first()
        key_actions = tuple(perm) if perm is not None else None
    if user.is_root:
        return Effective(root=True, key_actions=key_actions)
    roles = list(Role.objects.filter(assignments__user=user).prefetch_related("statements", "line_tags"))
    allows: list[str] = []
    denies: list[str] = []
    tags: set[int] = set()
    for role in roles:
        if role.is_builtin:
            spec = BUILTIN_ROLES.get(role.key)
            if spec is not None:
                allows += spec.allow
                denies += spec.deny
        else:
            for st in role.statements.all():
                (allows if st.effect == Effect.ALLOW else denies).append(st.action)
            tags.update(t.pk for t in role.line_tags.all())
    for effect, action in PolicyStatement.objects.filter(user=user).values_list("effect", "action"):
        (allows if effect == Effect.ALLOW else denies).append(action)
    tags.update(UserLineLimit.objects.filter(user=user).values_list("tag_id", flat=True))
    return Effective(allows=tuple(allows), denies=tuple(denies), tag_ids=tuple(sorted(tags)) if tags else None,
                     key_actions=key_actions, roles=roles,
                     role_requires_approval=any(r.requires_approval for r in roles))


def _evaluate(eff: Effective, action: str) -> bool:
    if not eff.active:
        return False
    if eff.key_actions is not None and not any(a.pattern_matches(p, action) for p in eff.key_actions):
        return False
    if eff.root:
        return True
    if eff.tag_ids is not None and action in a.NOT_LINE_SCOPED:
        return False
    if any(a.pattern_matches(p, action) for p in eff.denies):
        return False
    return any(a.pattern_matches(p, action) for p in eff.allows)


def can(*, user: Any, action: str) -> bool:
    """True when ``user`` may perform ``action`` (a name from ``kaisen.access.actions``)."""
    if user is None:
        return True
    if action not in a.ACTIONS:
        raise ValueError(f"unknown action {action!r}: add it to kaisen/access/actions.py")
    return _evaluate(effective(user), action)


def authorize(*, user: Any, action: str) -> None:
    """Raise ``DomainError(PERMISSION_DENIED)`` naming ``action`` unless ``user`` may perform it."""
    if not can(user=user, action=action):
        raise ActionDenied(action)


def line_scope(*, user: Any, prefix: str = "") -> Q:
    """A filter limiting a query to the lines ``user`` may see; ``prefix`` is the path to the line
    (``"line__"`` for a model with a ``line`` foreign key). ``Q()`` when the user sees every line."""
    if user is None:
        return Q()
    eff = effective(user)
    if not eff.active:
        return Q(pk__in=[])
    if eff.tag_ids is None:
        return Q()
    lines = LineTagging.objects.filter(tag_id__in=eff.tag_ids).values("line_id")
    return Q(**{f"{prefix}id__in": lines}) if prefix else Q(id__in=lines)


def _limit_tag_ids(user: Any) -> tuple[int, ...] | None:
    """The tags a line-limited user is limited to; None when ``user`` sees every line (or is the system)."""
    return None if user is None else effective(user).tag_ids


def is_line_limited(*, user: Any) -> bool:
    return _limit_tag_ids(user) is not None


def allowed_actions(*, user: Any) -> list[str]:
    """Every catalogue action ``user`` may perform (``GET /api/v1/access/me``, the role pages)."""
    return [name for name in a.ACTIONS if can(user=user, action=name)]


# --- approvals: whether a procedure must wait -----------------------------------------------------------

def approval_needed(*, user: Any, kind: str) -> bool:
    """A destructive procedure (cancellation, port-out, plan change) by this user must be approved by a
    second user: the tenant requires it, or one of the user's roles does. Never for the root user."""
    if user is None or kind not in a.APPROVAL_KINDS:
        return False
    eff = effective(user)
    if eff.root or not eff.active:
        return False
    if eff.role_requires_approval:
        return True
    return AccessSettings.objects.filter(tenant_id=user.tenant_id, approval_required=True).exists()


# --- management: roles, statements, assignments --------------------------------------------------------

def builtin_roles_ensure() -> dict[str, Role]:
    """The built-in role rows (made on first use; their statements are in code)."""
    rows = {r.key: r for r in Role.objects.filter(tenant__isnull=True)}
    for key, spec in BUILTIN_ROLES.items():
        if key not in rows:
            try:
                with transaction.atomic():
                    rows[key] = Role.objects.create(tenant=None, key=key, name=str(spec.name)[:100])
            except IntegrityError:
                rows[key] = Role.objects.get(tenant__isnull=True, key=key)
    return rows


def _tenant_of(actor: Any) -> Any:
    if actor is None or getattr(actor, "tenant_id", None) is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    return actor.tenant


def role_list(*, tenant: Any, user: Any = None) -> list[Role]:
    if user is not None:
        authorize(user=user, action=a.ROLE_MANAGE)
    builtin_roles_ensure()
    return list(Role.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True))
                .prefetch_related("statements", "line_tags").order_by("tenant_id", "name"))


def role_get(*, tenant: Any, role_id: int, user: Any = None) -> Role:
    """A built-in role or one of ``tenant``'s; another tenant's role is NotFound."""
    if user is not None:
        authorize(user=user, action=a.ROLE_MANAGE)
    role = (Role.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True), pk=role_id)
            .prefetch_related("statements", "line_tags").first())
    if role is None:
        raise NotFound(_("No such role."))
    return role


def role_statements(role: Role) -> list[tuple[str, str]]:
    """(effect, action pattern) of a role, built-in or custom."""
    if role.is_builtin:
        spec = BUILTIN_ROLES[role.key]
        return [(str(Effect.ALLOW), p) for p in spec.allow] + [(str(Effect.DENY), p) for p in spec.deny]
    return [(s.effect, s.action) for s in role.statements.all()]


def role_label(role: Role) -> str:
    if role.is_builtin and role.key in BUILTIN_ROLES:
        return str(BUILTIN_ROLES[role.key].name)
    return role.name


def role_description(role: Role) -> str:
    if role.is_builtin and role.key in BUILTIN_ROLES:
        return str(BUILTIN_ROLES[role.key].description)
    return role.description


def _clean_statements(statements: Iterable[Any]) -> list[tuple[str, str]]:
    """``[("allow", "Line:*"), ...]`` or ``[{"effect": ..., "action": ...}]``, checked."""
    out: list[tuple[str, str]] = []
    for st in statements:
        effect, action = (st.get("effect"), st.get("action")) if isinstance(st, dict) else st
        effect, action = str(effect or "").strip().lower(), str(action or "").strip()
        if effect not in Effect.values:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("A statement's effect is allow or deny."),
                              field="statements")
        if not a.pattern_valid(action):
            raise DomainError(ErrorCode.INVALID_ACTION,
                              _("'%(action)s' is not an action: use a name of the catalogue, Resource:* or *.")
                              % {"action": action}, field="statements")
        if (effect, action) not in out:
            out.append((effect, action))
    return out


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the role a name of 1 to 100 characters."), field="name")
    if name.lower() in {str(r.name).lower() for r in BUILTIN_ROLES.values()} | set(BUILTIN_ROLES):
        raise DomainError(ErrorCode.DUPLICATE, _("A built-in role has this name."), field="name")
    return name


def _tags_of(tenant: Any, tag_ids: Iterable[int]) -> list[LineTag]:
    ids = {as_id(t) for t in tag_ids}
    tags = list(LineTag.objects.filter(tenant=tenant, pk__in=[i for i in ids if i is not None]))
    if len(tags) != len(ids):
        raise NotFound(_("No such line tag."))
    return tags


@transaction.atomic
def role_create(*, actor: Any, name: str, description: str = "", statements: Iterable[Any] = (),
                requires_approval: bool = False, tag_ids: Iterable[int] = ()) -> Role:
    authorize(user=actor, action=a.ROLE_MANAGE)
    tenant = _tenant_of(actor)
    name = _clean_name(name)
    clean = _clean_statements(statements)
    tags = _tags_of(tenant, tag_ids)
    if Role.objects.filter(tenant=tenant, name=name).exists():
        raise DomainError(ErrorCode.DUPLICATE, _("A role with this name exists already."), field="name")
    role = Role.objects.create(tenant=tenant, name=name, description=(description or "").strip()[:300],
                               requires_approval=bool(requires_approval))
    PolicyStatement.objects.bulk_create(PolicyStatement(tenant=tenant, role=role, effect=e, action=p)
                                        for e, p in clean)
    role.line_tags.set(tags)
    audit_record(action="access.role.create", tenant=tenant, user=actor, target=role,
                 changes={"name": [None, name], "statements": [None, [f"{e} {p}" for e, p in clean]],
                          "requires_approval": [None, bool(requires_approval)],
                          "line_tags": [None, [t.label for t in tags]]})
    _changed()
    return role


@transaction.atomic
def role_update(*, actor: Any, role_id: int, name: str | None = None, description: str | None = None,
                statements: Iterable[Any] | None = None, requires_approval: bool | None = None,
                tag_ids: Iterable[int] | None = None) -> Role:
    authorize(user=actor, action=a.ROLE_MANAGE)
    tenant = _tenant_of(actor)
    role = role_get(tenant=tenant, role_id=role_id)
    if role.is_builtin:
        raise DomainError(ErrorCode.PERMISSION_DENIED, _("A built-in role cannot be changed; make a custom role."))
    changes: dict[str, list[Any]] = {}
    if name is not None:
        name = _clean_name(name)
        if name != role.name:
            if Role.objects.filter(tenant=tenant, name=name).exclude(pk=role.pk).exists():
                raise DomainError(ErrorCode.DUPLICATE, _("A role with this name exists already."), field="name")
            changes["name"] = [role.name, name]
            role.name = name
    if description is not None and description.strip()[:300] != role.description:
        changes["description"] = [role.description, description.strip()[:300]]
        role.description = description.strip()[:300]
    if requires_approval is not None and bool(requires_approval) != role.requires_approval:
        changes["requires_approval"] = [role.requires_approval, bool(requires_approval)]
        role.requires_approval = bool(requires_approval)
    role.save()
    if statements is not None:
        clean = _clean_statements(statements)
        before = [f"{e} {p}" for e, p in role_statements(role)]
        role.statements.all().delete()
        PolicyStatement.objects.bulk_create(PolicyStatement(tenant=tenant, role=role, effect=e, action=p)
                                            for e, p in clean)
        after = [f"{e} {p}" for e, p in clean]
        if sorted(before) != sorted(after):
            changes["statements"] = [before, after]
    if tag_ids is not None:
        tags = _tags_of(tenant, tag_ids)
        before_tags = sorted(t.label for t in role.line_tags.all())
        role.line_tags.set(tags)
        if before_tags != sorted(t.label for t in tags):
            changes["line_tags"] = [before_tags, sorted(t.label for t in tags)]
    if changes:
        audit_record(action="access.role.update", tenant=tenant, user=actor, target=role, changes=changes)
    _changed()
    return role_get(tenant=tenant, role_id=role.pk)


@transaction.atomic
def role_delete(*, actor: Any, role_id: int) -> None:
    authorize(user=actor, action=a.ROLE_MANAGE)
    tenant = _tenant_of(actor)
    role = role_get(tenant=tenant, role_id=role_id)
    if role.is_builtin:
        raise DomainError(ErrorCode.PERMISSION_DENIED, _("A built-in role cannot be deleted."))
    holders = list(RoleAssignment.objects.filter(role=role).values_list("user__username", flat=True))
    audit_record(action="access.role.delete", tenant=tenant, user=actor, target=role,
                 changes={"name": [role.name, None], "holders": [holders, []]})
    role.delete()
    _changed()


def _tenant_user(actor: Any, user_id: int, *, lock: bool = False) -> Any:
    from kaisen.accounts.models import User

    qs = User.objects.filter(tenant_id=actor.tenant_id, pk=user_id)
    if lock:
        qs = qs.select_for_update()
    user = qs.first()
    if user is None:
        raise NotFound()
    return user


def _role_refs(tenant: Any, roles: Iterable[Any]) -> list[Role]:
    """Roles by ID or by built-in key / custom name."""
    builtin = builtin_roles_ensure()
    out: list[Role] = []
    for ref in roles:
        role: Role | None
        if isinstance(ref, Role):
            role = ref if ref.tenant_id in (None, tenant.pk) else None
        elif isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            role_id = as_id(ref)
            role = (Role.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True), pk=role_id).first()
                    if role_id is not None else None)
        else:
            role = builtin.get(str(ref)) or Role.objects.filter(tenant=tenant, name=str(ref)).first()
        if role is None:
            raise NotFound(_("No such role: %(role)s.") % {"role": ref})
        if role not in out:
            out.append(role)
    return out


@transaction.atomic
def user_roles_set(*, actor: Any, user_id: int, roles: Iterable[Any]) -> list[Role]:
    """Give a user exactly these roles (IDs, built-in keys or custom role names)."""
    authorize(user=actor, action=a.ROLE_MANAGE)
    tenant = _tenant_of(actor)
    user = _tenant_user(actor, user_id, lock=True)
    wanted = _role_refs(tenant, roles)
    before = sorted(role_label(r) for r in Role.objects.filter(assignments__user=user))
    RoleAssignment.objects.filter(user=user).exclude(role__in=wanted).delete()
    have = set(RoleAssignment.objects.filter(user=user).values_list("role_id", flat=True))
    RoleAssignment.objects.bulk_create(RoleAssignment(tenant=tenant, user=user, role=r)
                                       for r in wanted if r.pk not in have)
    after = sorted(role_label(r) for r in wanted)
    if before != after:
        audit_record(action="access.user.roles", tenant=tenant, user=actor, target=user,
                     changes={"roles": [before, after]})
    _changed()
    return wanted


@transaction.atomic
def user_statements_set(*, actor: Any, user_id: int, statements: Iterable[Any]) -> list[tuple[str, str]]:
    """Statements attached to the user directly (on top of their roles')."""
    authorize(user=actor, action=a.ROLE_MANAGE)
    tenant = _tenant_of(actor)
    user = _tenant_user(actor, user_id, lock=True)
    clean = _clean_statements(statements)
    before = sorted(f"{e} {p}" for e, p in PolicyStatement.objects.filter(user=user).values_list("effect", "action"))
    PolicyStatement.objects.filter(user=user).delete()
    PolicyStatement.objects.bulk_create(PolicyStatement(tenant=tenant, user=user, effect=e, action=p)
                                        for e, p in clean)
    after = sorted(f"{e} {p}" for e, p in clean)
    if before != after:
        audit_record(action="access.user.statements", tenant=tenant, user=actor, target=user,
                     changes={"statements": [before, after]})
    _changed()
    return clean


@transaction.atomic
def user_line_limits_set(*, actor: Any, user_id: int, tag_ids: Iterable[int]) -> list[LineTag]:
    """Limit a user to the lines carrying one of these tags (none: no limit of their own)."""
    authorize(user=actor, action=a.ROLE_MANAGE)
    tenant = _tenant_of(actor)
    user = _tenant_user(actor, user_id, lock=True)
    tags = _tags_of(tenant, tag_ids)
    before = sorted(t.label for t in LineTag.objects.filter(user_limits__user=user))
    UserLineLimit.objects.filter(user=user).delete()
    UserLineLimit.objects.bulk_create(UserLineLimit(tenant=tenant, user=user, tag=t) for t in tags)
    after = sorted(t.label for t in tags)
    if before != after:
        audit_record(action="access.user.line_limits", tenant=tenant, user=actor, target=user,
                     changes={"line_tags": [before, after]})
    _changed()
    return tags


def user_roles(*, user: Any) -> list[Role]:
    """The roles given to ``user``, built-in ones first, then by name."""
    return list(Role.objects.filter(assignments__user=user).order_by("tenant_id", "name"))


def user_access(*, tenant: Any, user: Any, actor: Any = None) -> dict[str, Any]:
    """What the user pages show: roles, direct statements, line limit tags (a user may read their own)."""
    if actor is not None and getattr(actor, "pk", None) != user.pk:
        authorize(user=actor, action=a.ROLE_MANAGE)
    return {
        "roles": user_roles(user=user),
        "statements": list(PolicyStatement.objects.filter(user=user).values_list("effect", "action")),
        "line_tags": list(LineTag.objects.filter(tenant=tenant, user_limits__user=user)),
    }


@transaction.atomic
def access_settings_update(*, actor: Any, approval_required: bool) -> AccessSettings:
    authorize(user=actor, action=a.ROLE_MANAGE)
    tenant = _tenant_of(actor)
    row, _created = AccessSettings.objects.select_for_update().get_or_create(tenant=tenant)
    if row.approval_required != bool(approval_required):
        audit_record(action="access.settings", tenant=tenant, user=actor, target=tenant,
                     changes={"approval_required": [row.approval_required, bool(approval_required)]})
        row.approval_required = bool(approval_required)
        row.save(update_fields=["approval_required"])
    _changed()
    return row


def access_settings_get(*, tenant: Any) -> AccessSettings:
    return AccessSettings.objects.filter(tenant=tenant).first() or AccessSettings(tenant=tenant)


# --- line tags -------------------------------------------------------------------------------------------

def _visible_tags(tenant: Any, user: Any) -> Any:
    qs = LineTag.objects.filter(tenant=tenant)
    limit = _limit_tag_ids(user)
    return qs if limit is None else qs.filter(pk__in=limit)


def tag_list(*, tenant: Any, user: Any = None) -> list[LineTag]:
    """The tenant's tags; a line-limited user sees only the tags they are limited to."""
    return list(_visible_tags(tenant, user).order_by("kind", "name"))


def tag_get(*, tenant: Any, tag_id: int, user: Any = None) -> LineTag:
    tag = _visible_tags(tenant, user).filter(pk=tag_id).first()
    if tag is None:
        raise NotFound(_("No such line tag."))
    return tag


def _clean_tag(kind: str, name: str) -> tuple[str, str]:
    kind, name = (kind or "").strip(), (name or "").strip()
    if kind not in TagKind.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("A tag's kind is department, cost_centre or group."),
                          field="kind")
    if not name or len(name) > 50:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the tag a name of 1 to 50 characters."), field="name")
    return kind, name


@transaction.atomic
def tag_create(*, actor: Any, kind: str, name: str) -> LineTag:
    authorize(user=actor, action=a.LINE_TAG)
    tenant = _tenant_of(actor)
    kind, name = _clean_tag(kind, name)
    if LineTag.objects.filter(tenant=tenant, kind=kind, name=name).exists():
        raise DomainError(ErrorCode.DUPLICATE, _("This tag exists already."), field="name")
    tag = LineTag.objects.create(tenant=tenant, kind=kind, name=name)
    audit_record(action="access.tag.create", tenant=tenant, user=actor, target=tag,
                 changes={"tag": [None, tag.label]})
    return tag


@transaction.atomic
def tag_delete(*, actor: Any, tag_id: int) -> None:
    """Refused while a user or role is limited to the tag: deleting it would widen their access."""
    authorize(user=actor, action=a.LINE_TAG)
    tenant = _tenant_of(actor)
    tag = tag_get(tenant=tenant, tag_id=tag_id, user=actor)
    if tag.user_limits.exists() or tag.roles.exists():
        raise DomainError(ErrorCode.TAG_IN_USE, _("Users or roles are limited to this tag; remove the limit first."))
    audit_record(action="access.tag.delete", tenant=tenant, user=actor, target=tag,
                 changes={"tag": [tag.label, None], "lines": [tag.taggings.count(), 0]})
    tag.delete()
    _changed()


def _tag_by_ref(tenant: Any, ref: Any) -> LineTag:
    if isinstance(ref, LineTag):
        if ref.tenant_id != tenant.pk:
            raise NotFound(_("No such line tag."))
        return ref
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        tag_id = as_id(ref)
        if tag_id is None:
            raise NotFound(_("No such line tag: %(tag)s.") % {"tag": ref})
        return tag_get(tenant=tenant, tag_id=tag_id)
    kind, _sep, name = str(ref).partition(":")
    tag = LineTag.objects.filter(tenant=tenant, kind=kind.strip(), name=name.strip()).first()
    if tag is None:
        raise NotFound(_("No such line tag: %(tag)s.") % {"tag": ref})
    return tag


def line_tags_of(*, tenant: Any, line: Any, user: Any = None) -> list[LineTag]:
    return list(_visible_tags(tenant, user).filter(taggings__line=line).order_by("kind", "name"))


@transaction.atomic
def line_tags_set(*, actor: Any, line_id: int, tags: Iterable[Any]) -> list[LineTag]:
    """Give a line exactly these tags (IDs or ``kind:name``). A line outside the actor's lines is 404."""
    from kaisen.lines.selectors import line_get

    authorize(user=actor, action=a.LINE_TAG)
    tenant = _tenant_of(actor)
    line = line_get(tenant=tenant, line_id=line_id, user=actor, action=None)
    wanted = [_tag_by_ref(tenant, t) for t in tags]
    _check_tag_scope(actor, wanted)
    before = sorted(t.label for t in line_tags_of(tenant=tenant, line=line, user=actor))
    gone = LineTagging.objects.filter(line=line).exclude(tag__in=wanted)
    limit = _limit_tag_ids(actor)
    if limit is not None:  # tags the user cannot see stay on the line
        gone = gone.filter(tag_id__in=limit)
    gone.delete()
    have = set(LineTagging.objects.filter(line=line).values_list("tag_id", flat=True))
    LineTagging.objects.bulk_create(LineTagging(tenant=tenant, line=line, tag=t) for t in wanted if t.pk not in have)
    after = sorted({t.label for t in wanted})
    if before != after:
        audit_record(action="access.line.tags", tenant=tenant, user=actor, target=line,
                     changes={"tags": [before, after]})
    _changed()
    return line_tags_of(tenant=tenant, line=line, user=actor)


def _check_tag_scope(actor: Any, tags: list[LineTag]) -> None:
    """A line-limited user may only use their own tags (or could move a line out of a colleague's view
    into their own, or hand it to a tag they cannot see)."""
    limit = _limit_tag_ids(actor)
    if limit is None:
        return
    outside = [t for t in tags if t.pk not in limit]
    if outside:
        raise NotFound(_("No such line tag: %(tag)s.") % {"tag": outside[0].label})


TAG_CSV_COLUMNS = ("line", "tags")


@dataclass(frozen=True)
class TagImportRow:
    row: int
    line: str
    ok: bool
    code: str = ""
    message: str = ""
    tags: tuple[str, ...] = ()


def line_tags_import(*, actor: Any, csv_bytes: bytes) -> list[TagImportRow]:
    """Bulk tagging from a CSV with a header ``line,tags``: ``line`` a phone number or SIM serial, ``tags``
    the line's tags as ``kind:name`` separated by ``;`` (an empty cell removes every tag). Each row is its own
    transaction and gets its own result; a line outside the actor's lines is ``NOT_FOUND`` for that row."""
    from kaisen.lines.selectors import line_lookup

    authorize(user=actor, action=a.LINE_TAG)
    tenant = _tenant_of(actor)
    text = csv_text(csv_bytes)
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:  # e.g. a bare CR inside an unquoted cell, a cell over the csv module's limit
        raise DomainError(ErrorCode.INVALID_CSV,
                          _("Line %(line)d of the file cannot be read: a line break inside a cell must be in "
                            "double quotes, and a cell holds at most 131,072 characters.") % {"line": reader.line_num},
                          field="file") from exc
    if not rows or [c.strip().lower() for c in rows[0][:2]] != list(TAG_CSV_COLUMNS):
        raise DomainError(ErrorCode.INVALID_CSV, _("The first row must be the header: line,tags."), field="file")
    if len(rows) - 1 > 10_000:
        raise DomainError(ErrorCode.INVALID_CSV, _("At most 10,000 rows."), field="file")
    results: list[TagImportRow] = []
    for number, row in enumerate(rows[1:], start=1):
        if not any(c.strip() for c in row):
            continue
        ref = (row[0] if row else "").strip()
        refs = [t.strip() for t in (row[1] if len(row) > 1 else "").split(";") if t.strip()]
        try:
            with transaction.atomic():
                line = line_lookup(tenant=tenant, query=ref, user=actor)
                tags = line_tags_set(actor=actor, line_id=line.pk, tags=refs)
            results.append(TagImportRow(row=number, line=ref, ok=True, tags=tuple(t.label for t in tags)))
        except DomainError as exc:
            results.append(TagImportRow(row=number, line=ref, ok=False, code=str(exc.code), message=str(exc.message)))
    return results


# --- API-key permissions (§6) ------------------------------------------------------------------------------

def api_key_own(*, user: Any, key_id: str) -> Any:
    """One of ``user``'s own API keys; anyone else's (or none) is NotFound."""
    from kaisen.accounts.models import ApiKey

    key = ApiKey.objects.filter(tenant_id=user.tenant_id, user=user, key_id=key_id).first()
    if key is None:
        raise NotFound()
    return key


def api_key_actions(*, api_key: Any) -> list[str] | None:
    perm = ApiKeyPermission.objects.filter(api_key=api_key).values_list("actions", flat=True).first()
    return list(perm) if perm is not None else None


@transaction.atomic
def api_key_actions_set(*, user: Any, key_id: str, actions: Iterable[str] | None) -> list[str] | None:
    """Narrow one of the user's own API keys to ``actions`` (patterns allowed); ``None`` lifts the narrowing
    (the key may then do what its user may). Never widens: a key is always limited by its user too."""
    authorize(user=user, action=a.APIKEY_MANAGE)
    key = api_key_own(user=user, key_id=key_id)
    before = api_key_actions(api_key=key)
    if actions is None:
        ApiKeyPermission.objects.filter(api_key=key).delete()
        after = None
    else:
        after = [p for _e, p in _clean_statements(("allow", x) for x in actions)]
        ApiKeyPermission.objects.update_or_create(api_key=key, defaults={"tenant_id": key.tenant_id,
                                                                         "actions": after})
    if before != after:
        audit_record(action="apikey.permissions", tenant=key.tenant, user=user, target=key,
                     changes={"actions": [before, after]})
    _changed()
    return after


# --- approvals ---------------------------------------------------------------------------------------------

def approval_list(*, tenant: Any, user: Any, status: str = "") -> list[ApprovalRequest]:
    """Requests the user may see: every one on their lines when they may decide, else their own."""
    qs = (ApprovalRequest.objects.filter(tenant=tenant).filter(line_scope(user=user, prefix="line__"))
          .select_related("line", "requested_by", "decided_by", "order"))
    if not can(user=user, action=a.APPROVAL_DECIDE):
        qs = qs.filter(requested_by=user)
    if status:
        if status not in ApprovalStatus.values:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not an approval status.")
                              % {"value": status}, field="status")
        qs = qs.filter(status=status)
    return list(qs.order_by("-id")[:500])


def approval_get(*, tenant: Any, user: Any, approval_id: int, lock: bool = False) -> ApprovalRequest:
    qs = ApprovalRequest.objects.filter(tenant=tenant, pk=approval_id).filter(line_scope(user=user, prefix="line__"))
    if lock:
        qs = qs.select_for_update(of=("self",))
    req = qs.select_related("line", "requested_by", "decided_by", "order").first()
    mine = req is not None and req.requested_by_id == getattr(user, "pk", None)
    if req is None or not (mine or can(user=user, action=a.APPROVAL_DECIDE)):
        raise NotFound(_("No such approval request."))
    return req


def approval_request_create(*, tenant: Any, user: Any, line_id: int, kind: str, params: dict[str, Any],
                            idempotency_key: str, reason: str = "") -> ApprovalRequest:
    """Hold a destructive procedure for approval: checked now like an order would be (the rules, the line,
    the user's permission), submitted only when another user approves it. Idempotent per key."""
    authorize(user=user, action=a.order_kind_action(kind))
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give an idempotency key of 1 to 100 characters."),
                          field="idempotency_key")
    existing = ApprovalRequest.objects.filter(tenant=tenant, idempotency_key=key).first()
    if existing is not None:
        if existing.line_id != line_id or existing.kind != kind or existing.requested_by_id != user.pk:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                              _("This idempotency key was already used for a different request."),
                              field="idempotency_key")
        return existing
    preview = procedures().preview(tenant=tenant, user=user, line_id=line_id, kind=kind, params=params)
    with transaction.atomic():
        if ApprovalRequest.objects.filter(tenant=tenant, line_id=preview.line.pk, kind=kind,
                                          status=ApprovalStatus.PENDING).exists():
            raise DomainError(ErrorCode.ORDER_CONFLICT,
                              _("The same procedure for this line is already waiting for approval."))
        req = ApprovalRequest.objects.create(tenant=tenant, line=preview.line, kind=kind, params=params or {},
                                             requested_by=user, idempotency_key=key, reason=(reason or "")[:500])
        audit_record(action="approval.request", tenant=tenant, user=user, target=req, reason=reason,
                     changes={"kind": [None, kind], "line": [None, preview.line.msisdn or preview.line.iccid],
                              "params": [None, params or {}]})
        event_emit(tenant_id=req.tenant_id, type=catalogue.APPROVAL_REQUESTED, line_id=req.line_id, data={
            "approval_id": req.pk, "kind": kind, "line_id": req.line_id, "requested_by": user.username})
    return req


def procedure_request(*, tenant: Any, user: Any, line_id: int, kind: str, params: dict[str, Any],
                      idempotency_key: str, reason: str = "") -> Any:
    """What every interface calls to start a procedure: an ``Order`` at once, or an ``ApprovalRequest``
    when an approval policy holds this procedure for a second user."""
    if approval_needed(user=user, kind=kind):
        return approval_request_create(tenant=tenant, user=user, line_id=line_id, kind=kind, params=params,
                                       idempotency_key=idempotency_key, reason=reason)
    return procedures().submit(tenant=tenant, user=user, line_id=line_id, kind=kind, params=params,
                               idempotency_key=idempotency_key)


def approval_decide(*, tenant: Any, user: Any, approval_id: int, approve: bool, note: str = "") -> ApprovalRequest:
    """Approve (submits the order through ``order_submit``, once) or reject a pending request. The requester
    cannot decide their own request; the approver needs ``Approval:decide`` and the procedure's action, and
    the line must be one they may see. The requester must still hold the procedure's action."""
    authorize(user=user, action=a.APPROVAL_DECIDE)  # before the lookup: 403 names the action, leaks nothing
    with transaction.atomic():
        req = approval_get(tenant=tenant, user=user, approval_id=approval_id, lock=True)
        if req.status != ApprovalStatus.PENDING:
            raise DomainError(ErrorCode.APPROVAL_NOT_PENDING,
                              _("This request was already decided (%(status)s).")
                              % {"status": req.get_status_display()})
        if req.requested_by_id == user.pk:
            raise DomainError(ErrorCode.PERMISSION_DENIED,
                              _("You cannot approve or reject your own request: another user must."))
        authorize(user=user, action=a.order_kind_action(req.kind))
        note = (note or "").strip()[:500]
        if approve:
            order = procedures().submit(tenant=tenant, user=req.requested_by, line_id=req.line_id, kind=req.kind,
                                        params=req.params, idempotency_key=f"approval-{req.pk}", approved_by=user)
            req.order = order
            req.status = ApprovalStatus.APPROVED
        else:
            req.status = ApprovalStatus.REJECTED
        req.decided_by, req.decided_at, req.decision_note = user, clock.now(), note
        req.save(update_fields=["order", "status", "decided_by", "decided_at", "decision_note", "updated_at"])
        audit_record(action="approval.approve" if approve else "approval.reject", tenant=tenant, user=user,
                     target=req, reason=note,
                     changes={"status": [ApprovalStatus.PENDING, req.status],
                              "order": [None, req.order_id], "requested_by": [None, req.requested_by.audit_label]})
        event_emit(tenant_id=req.tenant_id, type=catalogue.APPROVAL_DECIDED, line_id=req.line_id, data={
            "approval_id": req.pk, "kind": req.kind, "line_id": req.line_id, "decision": req.status,
            "decided_by": user.username, "order_id": req.order_id})
    return req


def approval_withdraw(*, tenant: Any, user: Any, approval_id: int) -> ApprovalRequest:
    """The requester takes back a request that is still pending."""
    with transaction.atomic():
        req = approval_get(tenant=tenant, user=user, approval_id=approval_id, lock=True)
        if req.requested_by_id != user.pk:
            raise DomainError(ErrorCode.PERMISSION_DENIED, _("Only the requester can withdraw a request."))
        if req.status != ApprovalStatus.PENDING:
            raise DomainError(ErrorCode.APPROVAL_NOT_PENDING,
                              _("This request was already decided (%(status)s).")
                              % {"status": req.get_status_display()})
        req.status, req.decided_at = ApprovalStatus.WITHDRAWN, clock.now()
        req.save(update_fields=["status", "decided_at", "updated_at"])
        audit_record(action="approval.withdraw", tenant=tenant, user=user, target=req,
                     changes={"status": [ApprovalStatus.PENDING, ApprovalStatus.WITHDRAWN]})
    return req
