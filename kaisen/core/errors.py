"""Domain errors: services raise them, every interface maps them once.

The web pages show ``message`` in the user's language; the API answers ``{"code", "message"}`` with the
HTTP status below; the CLI prints both and exits non-zero.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    TOKEN_INVALID = "TOKEN_INVALID"  # noqa: S105
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_PHONE_NUMBER = "INVALID_PHONE_NUMBER"
    INVALID_ICCID = "INVALID_ICCID"
    INVALID_USERNAME = "INVALID_USERNAME"
    INVALID_OPERATOR_ID = "INVALID_OPERATOR_ID"
    INVALID_CURSOR = "INVALID_CURSOR"
    DUPLICATE = "DUPLICATE"
    API_KEY_REVOKED = "API_KEY_REVOKED"
    # Line procedures (issue 3)
    OUTSIDE_RECEPTION_HOURS = "OUTSIDE_RECEPTION_HOURS"
    PROCEDURE_NOT_AVAILABLE = "PROCEDURE_NOT_AVAILABLE"
    LINE_NOT_ELIGIBLE = "LINE_NOT_ELIGIBLE"
    ORDER_CONFLICT = "ORDER_CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    INVALID_DATE = "INVALID_DATE"
    INVALID_OPTION = "INVALID_OPTION"
    INVALID_NAME = "INVALID_NAME"
    SIZE_NOT_OFFERED = "SIZE_NOT_OFFERED"
    METHOD_NOT_OFFERED = "METHOD_NOT_OFFERED"
    INVALID_PLAN = "INVALID_PLAN"
    INVALID_CSV = "INVALID_CSV"
    # Two-step login (issue 5)
    MFA_REQUIRED = "MFA_REQUIRED"
    MFA_CHALLENGE_INVALID = "MFA_CHALLENGE_INVALID"
    MFA_CODE_INVALID = "MFA_CODE_INVALID"
    MFA_RESEND_TOO_SOON = "MFA_RESEND_TOO_SOON"
    MFA_LINK_INVALID = "MFA_LINK_INVALID"
    MFA_ENROLMENT_REQUIRED = "MFA_ENROLMENT_REQUIRED"
    MFA_TOO_MANY_ATTEMPTS = "MFA_TOO_MANY_ATTEMPTS"
    # Usage ingestion and usage views (issue 4 §1, §7, §8 — usage)
    INVALID_USAGE_FILE = "INVALID_USAGE_FILE"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.AUTHENTICATION_FAILED: 401,
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.TOKEN_INVALID: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.DUPLICATE: 409,
    ErrorCode.API_KEY_REVOKED: 409,
    ErrorCode.ORDER_CONFLICT: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.ORDER_NOT_CANCELLABLE: 409,
    ErrorCode.MFA_REQUIRED: 401,
    ErrorCode.MFA_CHALLENGE_INVALID: 401,
    ErrorCode.MFA_CODE_INVALID: 401,
    ErrorCode.MFA_RESEND_TOO_SOON: 429,
    ErrorCode.MFA_ENROLMENT_REQUIRED: 403,
    ErrorCode.MFA_TOO_MANY_ATTEMPTS: 429,
}

DEFAULT_MESSAGES: dict[ErrorCode, Promise] = {
    ErrorCode.NOT_FOUND: _("Not found."),
    ErrorCode.VALIDATION_ERROR: _("The input is not valid."),
    ErrorCode.AUTHENTICATION_FAILED: _("The operator ID, username or password is incorrect, or the account is locked."),
    ErrorCode.NOT_AUTHENTICATED: _("Authentication is required."),
    ErrorCode.TOKEN_INVALID: _("The access token is invalid, expired or revoked."),
    ErrorCode.PERMISSION_DENIED: _("You do not have permission to do this."),
    ErrorCode.MFA_REQUIRED: _("Enter the code of your two-step login."),
    ErrorCode.MFA_CHALLENGE_INVALID: _("This login has ended or expired. Log in again from the start."),
    ErrorCode.MFA_CODE_INVALID: _("The code is incorrect or has expired. Log in again from the start."),
    ErrorCode.MFA_LINK_INVALID: _("This link is invalid, already used, withdrawn or expired."),
    ErrorCode.MFA_TOO_MANY_ATTEMPTS: _(
        "Too many wrong codes. Two-step login is paused for this user; try again in an hour."),
    ErrorCode.MFA_ENROLMENT_REQUIRED: _(
        "Your company requires two-step login. Set it up on the web portal first, then log in again."),
}


class DomainError(Exception):
    """A rule said no. ``code`` is stable for programs, ``message`` is for people."""

    def __init__(self, code: ErrorCode, message: str | Promise | None = None, *, field: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES.get(code, _("The request was refused."))
        self.field = field
        self.details = details or {}
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": str(self.code), "message": str(self.message)}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class NotFound(DomainError):
    def __init__(self, message: str | Promise | None = None) -> None:
        super().__init__(ErrorCode.NOT_FOUND, message)
