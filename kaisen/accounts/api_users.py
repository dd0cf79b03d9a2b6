"""``/api/v1/users``: the tenant's users, managed by its root user (issue 5 §2, M-USER-1, M-USER-2)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import StrictBool

from kaisen.accounts.api import ErrorOut
from kaisen.accounts.models import User
from kaisen.accounts.selectors import user_get, user_list
from kaisen.accounts.services import user_create_limited, user_unlock_by_root, user_update, username_change
from kaisen.accounts.validators import USERNAME_RE
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import Id

router = Router(tags=["users"])


class UserOut(Schema):
    user_id: int
    username: str
    display_name: str
    email: str
    role: str  # "root" or "user"
    roles: list[str] = []  # issue 5 §1: the roles given (kaisen.access)
    is_active: bool
    is_locked: bool
    locked_at: dt.datetime | None
    last_login: dt.datetime | None
    created_at: dt.datetime


#: The document states the rule; the service refuses any other name with its own 400 INVALID_USERNAME.
USERNAME_HELP = "6 to 32 letters (A-Z, a-z), digits or `_`."

class UserIn(Schema):
    username: str = Field(description=USERNAME_HELP, json_schema_extra={"pattern": USERNAME_RE.pattern})
    password: str
    display_name: str = ""
    email: str = ""
    roles: list[Id | str] = []  # issue 5 §1: role IDs, built-in keys or custom role names (Role:manage)


class UserPatch(Schema):
    """Only the fields given change. ``username``: 6 to 32 letters (A-Z, a-z), digits or ``_``."""

    username: str | None = Field(None, description=USERNAME_HELP, json_schema_extra={"pattern": USERNAME_RE.pattern})
    display_name: str | None = None
    email: str | None = None
    is_active: StrictBool | None = None


def user_out(user: User) -> UserOut:
    from kaisen.access.services import role_label, user_roles

    return UserOut(user_id=user.pk, username=user.username, display_name=user.display_name, email=user.email,
                   role="root" if user.is_root else "user",
                   roles=[role_label(r) for r in user_roles(user=user)],
                   is_active=user.is_active, is_locked=user.is_locked,
                   locked_at=user.locked_at, last_login=user.last_login, created_at=user.date_joined)


def _root(request: HttpRequest) -> User:
    """A user who may manage users (``User:manage``, issue 5 §1; the root user always may)."""
    from kaisen.access import actions
    from kaisen.access.services import authorize

    user = request.auth  # type: ignore[attr-defined]
    if not isinstance(user, User) or user.tenant_id is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED,
                          _("User management needs the root user: this token belongs to a limited user."))
    authorize(user=user, action=actions.USER_MANAGE)
    return user


@router.get("/users", response={200: list[UserOut], 403: ErrorOut}, summary="The tenant's users (root user only)")
def users(request: HttpRequest) -> list[UserOut]:
    actor = _root(request)
    return [user_out(u) for u in user_list(tenant=actor.tenant)]


@router.post("/users", response={201: UserOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
             summary="Create a limited user (root user only)")
def user_new(request: HttpRequest, payload: UserIn) -> Status[UserOut]:
    from kaisen.access.services import user_roles_set

    actor = _root(request)
    with transaction.atomic():  # the user and their roles, or nothing
        user = user_create_limited(actor=actor, username=payload.username, password=payload.password,
                                   display_name=payload.display_name, email=payload.email)
        if payload.roles:
            user_roles_set(actor=actor, user_id=user.pk, roles=payload.roles)
    return Status(201, user_out(user))


@router.get("/users/{user_id}", response={200: UserOut, 403: ErrorOut, 404: ErrorOut},
            summary="One user of the tenant (root user only)")
def user_detail(request: HttpRequest, user_id: Id) -> UserOut:
    actor = _root(request)
    return user_out(user_get(tenant=actor.tenant, user_id=user_id))


@router.patch("/users/{user_id}", response={200: UserOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                                             422: ErrorOut},
              summary="Change a user's name, email, active flag or username (root user only)")
def user_patch(request: HttpRequest, user_id: Id, payload: UserPatch) -> UserOut:
    actor = _root(request)
    user_get(tenant=actor.tenant, user_id=user_id)  # 404 before any validation
    with transaction.atomic():  # all of the change or none of it
        if payload.username is not None:
            username_change(actor=actor, user_id=user_id, new_username=payload.username)
        user = user_update(actor=actor, user_id=user_id, display_name=payload.display_name, email=payload.email,
                           is_active=payload.is_active)
    return user_out(user)


@router.post("/users/{user_id}/unlock", response={200: UserOut, 403: ErrorOut, 404: ErrorOut},
             summary="End a user's lock and clear the failed-login counter (root user only)")
def user_unlock(request: HttpRequest, user_id: Id) -> UserOut:
    return user_out(user_unlock_by_root(actor=_root(request), user_id=user_id))
