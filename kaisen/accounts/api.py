from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict
from pydantic.config import JsonDict

from kaisen.accounts.models import ApiKey, User
from kaisen.accounts.second_step import second_step
from kaisen.accounts.services import (
    IssuedToken,
    api_key_create,
    api_key_revoke,
    login_check,
    token_issue_for_api_key,
    token_revoke,
)
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import UtcDateTime
from kaisen.core.schemas import ErrorOut, PathText, trimmed_pattern

router = Router(tags=["auth"])


def _user(request: HttpRequest) -> User:
    """The user the bearer token belongs to (set by kaisen.api.BearerToken)."""
    return request.auth  # type: ignore[attr-defined,no-any-return]


_TEXT: JsonDict = {"type": "string", "minLength": 1}
_PASSWORD: JsonDict = {"type": "string"}


class AuthIn(Schema):
    """Either ``key_id`` + ``secret`` (an API key), or ``operator_id`` + ``username`` + ``password``, or — for
    the account's root user (S-ACC-1) — ``email`` + ``password``. The document says so (``anyOf``): a body
    with none of the three complete is refused with 400 (issue 14: schemathesis found such bodies documented
    as valid)."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["key_id", "secret"], "properties": {"key_id": _TEXT, "secret": _TEXT}},
        {"required": ["operator_id", "username", "password"],
         "properties": {"operator_id": _TEXT, "username": _TEXT, "password": _PASSWORD}},
        {"required": ["email", "password"], "properties": {"email": _TEXT, "password": _PASSWORD}},
    ]})

    key_id: str | None = None
    secret: str | None = None
    email: str | None = None
    operator_id: str | None = None
    username: str | None = None
    password: str | None = None


class TokenOut(Schema):
    token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_at: dt.datetime
    operator_id: str
    username: str


class MeOut(Schema):
    operator_id: str
    tenant_name: str
    username: str
    display_name: str
    is_root: bool


class ApiKeyIn(Schema):
    name: str = Field(description="1 to 100 characters (spaces around it trimmed).",
                      json_schema_extra={"pattern": trimmed_pattern(100)})
    expires_at: UtcDateTime | None = Field(None, description="In the future (else 400 `INVALID_PERIOD`); none: "
                                                             "the key does not expire.")


class ApiKeyOut(Schema):
    key_id: str
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewApiKeyOut(ApiKeyOut):
    secret: str


class MfaRequiredOut(Schema):
    """A password login of a user with two-step login: answer at ``POST /api/v1/auth/mfa``."""

    code: str
    message: str
    challenge_id: str | None = None
    methods: list[str] = []


def token_out(issued: IssuedToken) -> TokenOut:
    assert issued.user.tenant is not None
    return TokenOut(token=issued.token, expires_at=issued.expires_at, operator_id=issued.user.tenant.public_id,
                    username=issued.user.username)


def token_for(user: User) -> TokenOut:
    """Issue a bearer token to ``user`` whose password (and second step, if any) has been checked."""
    from kaisen.accounts.services import _issue

    return token_out(_issue(user, None))


@router.post("/auth", auth=None, response={200: TokenOut, 401: MfaRequiredOut, 403: ErrorOut, 422: ErrorOut},
             summary="Get a bearer token")
def auth(request: HttpRequest, payload: AuthIn) -> TokenOut | Status[MfaRequiredOut]:
    # The first complete set of credentials, in the order of the document's ``anyOf``.
    if payload.key_id and payload.secret:
        # API keys are for programs: no second step.
        return token_out(token_issue_for_api_key(key_id=payload.key_id, secret=payload.secret))
    if payload.operator_id and payload.username and payload.password is not None:
        user = login_check(request=request, operator_id=payload.operator_id, username=payload.username,
                           password=payload.password, channel="api")
    elif payload.email and payload.password is not None:
        from kaisen.accounts.email_login import login_check_email

        user = login_check_email(request=request, email=payload.email, password=payload.password, channel="api")
    elif payload.key_id or payload.secret:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give both key_id and secret."))
    elif payload.email is not None and not (payload.operator_id or payload.username):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give email and password."))
    else:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("Give key_id and secret, operator_id, username and password, or email and password."))
    step = second_step().api(user=user, channel="api")
    if step.challenge_id is not None:
        err = DomainError(ErrorCode.MFA_REQUIRED)
        return Status(401, MfaRequiredOut(code=str(err.code), message=str(err.message),
                                          challenge_id=step.challenge_id, methods=step.methods))
    if step.enrol:
        raise DomainError(ErrorCode.MFA_ENROLMENT_REQUIRED)
    return token_for(user)


@router.delete("/auth", response={204: None, 401: ErrorOut}, summary="Revoke the token of this request")
def auth_revoke(request: HttpRequest) -> Status[None]:
    token_revoke(token=request.api_token)  # type: ignore[attr-defined]
    return Status(204, None)


@router.get("/me", response=MeOut, summary="Who the token belongs to")
def me(request: HttpRequest) -> MeOut:
    user = _user(request)
    assert user.tenant is not None
    return MeOut(operator_id=user.tenant.public_id, tenant_name=user.tenant.legal_name, username=user.username,
                 display_name=user.display_name, is_root=user.is_root)


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(key_id=key.key_id, name=key.name, created_at=key.created_at, expires_at=key.expires_at,
                     last_used_at=key.last_used_at, revoked_at=key.revoked_at)


@router.get("/api-keys", response=list[ApiKeyOut], tags=["api keys"], summary="My API keys")
def api_keys(request: HttpRequest) -> list[ApiKeyOut]:
    from kaisen.accounts.selectors import api_key_list

    return [_key_out(k) for k in api_key_list(user=_user(request))]


@router.post("/api-keys", response={201: NewApiKeyOut, 422: ErrorOut}, tags=["api keys"],
             summary="Create an API key (the secret is shown only in this answer)")
def api_key_new(request: HttpRequest, payload: ApiKeyIn) -> Status[NewApiKeyOut]:
    new = api_key_create(user=_user(request), name=payload.name, expires_at=payload.expires_at)
    return Status(201, NewApiKeyOut(**_key_out(new.api_key).model_dump(), secret=new.secret))


@router.delete("/api-keys/{key_id}", response={200: ApiKeyOut, 404: ErrorOut}, tags=["api keys"],
               summary="Revoke an API key and every token issued for it")
def api_key_delete(request: HttpRequest, key_id: PathText,
                   reason: str = Query("", max_length=500, description="Why (optional; kept in the audit log).")
                   ) -> ApiKeyOut:
    return _key_out(api_key_revoke(user=_user(request), key_id=key_id, reason=reason))
