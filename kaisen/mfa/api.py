"""``POST /api/v1/auth/mfa``: the second step of a password login through the API (issue 5 §3)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from kaisen.accounts.api import ErrorOut, TokenOut, token_for
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.mfa import services

router = Router(tags=["auth"])


class MfaIn(Schema):
    challenge_id: str
    code: str


class ChallengeIn(Schema):
    challenge_id: str


class ResentOut(Schema):
    challenge_id: str
    code_expires_at: str


@router.post("/auth/mfa", auth=None, response={200: TokenOut, 401: ErrorOut, 403: ErrorOut},
             summary="Answer the two-step login challenge of POST /auth and get the bearer token")
def auth_mfa(request: HttpRequest, payload: MfaIn) -> TokenOut:
    user = services.login_verify(challenge_id=payload.challenge_id, code=payload.code, channel="api")
    if services.enrolment_needed(user):
        raise DomainError(ErrorCode.MFA_ENROLMENT_REQUIRED)
    return token_for(user)


@router.post("/auth/mfa/resend", auth=None, response={200: ResentOut, 401: ErrorOut, 429: ErrorOut},
             summary="Mail a new email code for the challenge (30 s cooldown)")
def auth_mfa_resend(request: HttpRequest, payload: ChallengeIn) -> ResentOut:
    ch = services.login_resend(challenge_id=payload.challenge_id, channel="api")
    assert ch.code_expires_at is not None
    return ResentOut(challenge_id=ch.challenge_id, code_expires_at=ch.code_expires_at.isoformat())
