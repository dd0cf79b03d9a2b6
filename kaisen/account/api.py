"""Account API (issue 5 §7): contract summary (K-1), phone-number pages (K-2), contract holder info and the
login email (S-ACC-3), SIM transfer (S-ACC-4), account deletion (S-ACC-5)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Router, Schema, Status
from pydantic import WithJsonSchema

from kaisen.account import selectors, services
from kaisen.accounts.email_login import (
    login_email_change_confirm,
    login_email_change_request,
    login_email_change_withdraw,
    login_email_pending,
)
from kaisen.accounts.models import User
from kaisen.core.ids import Id
from kaisen.core.schemas import SPACE, EmailText, ErrorOut, trimmed, trimmed_optional_pattern
from kaisen.tenancy.models import SimTransfer, Tenant

router = Router(tags=["account"])


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


class ServiceOut(Schema):
    name: str
    applied: bool
    detail: str


class ContractOut(Schema):
    operator_id: str
    contract_code: str
    legal_name: str
    numbers_total: int
    numbers_by_status: dict[str, int]
    channels: int
    extra_dial_in_numbers: int
    services: list[ServiceOut]
    started_on: dt.date | None
    connection_type: str
    dns_primary: str | None
    dns_secondary: str | None


@router.get("/account/contract", response=ContractOut, summary="Contract summary (K-1)")
def contract(request: HttpRequest) -> ContractOut:
    s = selectors.contract_summary(user=_user(request))
    t = s.tenant
    return ContractOut(
        operator_id=t.public_id, contract_code=t.contract_code, legal_name=t.legal_name,
        numbers_total=s.lines_total, numbers_by_status=s.lines_by_status, channels=t.channels,
        extra_dial_in_numbers=s.dial_in_count,
        services=[ServiceOut(name=x.name, applied=x.applied, detail=x.detail) for x in s.services],
        started_on=t.contract_started_on, connection_type=t.connection_type, dns_primary=t.dns_primary,
        dns_secondary=t.dns_secondary,
    )


class AccountNumberOut(Schema):
    line_id: int
    base_number: str
    dial_in_number: str | None
    mobile_number: str
    started_on: dt.date | None
    plan_code: str
    status: str
    prev_line_id: int | None
    next_line_id: int | None


def _number_out(d: selectors.NumberDetail) -> AccountNumberOut:
    return AccountNumberOut(line_id=d.line.pk, base_number=d.base_number,
                     dial_in_number=d.dial_in.number if d.dial_in else None, mobile_number=d.line.msisdn or "",
                     started_on=(d.dial_in.started_on if d.dial_in and d.dial_in.started_on else d.line.started_on),
                     plan_code=d.line.plan.code, status=d.line.status, prev_line_id=d.prev_id, next_line_id=d.next_id)


@router.get("/account/numbers", response={200: AccountNumberOut, 404: ErrorOut},
            summary="The first phone number of the contract (K-2), with the ID of the next one")
def number_first(request: HttpRequest) -> AccountNumberOut:
    return _number_out(selectors.number_detail(user=_user(request)))


@router.get("/account/numbers/{line_id}", response={200: AccountNumberOut, 404: ErrorOut},
            summary="One phone number of the contract (K-2) with NEXT / BACK line IDs")
def number_get(request: HttpRequest, line_id: Id) -> AccountNumberOut:
    return _number_out(selectors.number_detail(user=_user(request), line_id=line_id))


class ProfileOut(Schema):
    operator_id: str
    legal_name: str
    legal_name_kana: str
    contact_name: str
    contact_name_kana: str
    contact_phone: str
    contact_email: str
    notification_email: str
    postal_code: str
    address: str
    login_email: str
    login_email_pending: str | None


class ProfileIn(Schema):
    """Each field's rule, as the service checks it after trimming spaces (issue 14: the document states them;
    the service still refuses any other value with its own message, 400; the e-mail addresses are enforced by
    the schema, 422)."""

    contact_name: str | None = Field(None, json_schema_extra={"pattern": trimmed_optional_pattern(100)})
    contact_name_kana: str | None = Field(
        None, description="Full-width katakana, up to 100 characters.",
        json_schema_extra={"pattern": trimmed(r"^[ァ-ヶー・　 ]{0,100}$", optional=True)})
    contact_phone: str | None = Field(
        None, description="A Japanese phone number, e.g. 03-1234-5678; or empty.",
        json_schema_extra={"pattern": trimmed(services.PHONE_PATTERN, optional=True)})
    contact_email: EmailText | None = None
    notification_email: EmailText | None = None
    postal_code: str | None = Field(None, description="7 digits, e.g. 105-0011; or empty.",
                                    json_schema_extra={"pattern": trimmed(services.POSTAL_PATTERN, optional=True)})
    address: str | None = Field(None, json_schema_extra={"pattern": trimmed_optional_pattern(200)})


def _profile_out(user: User, tenant: Tenant) -> ProfileOut:
    pending = login_email_pending(user) if user.is_root else None
    return ProfileOut(
        operator_id=tenant.public_id, legal_name=tenant.legal_name, legal_name_kana=tenant.legal_name_kana,
        **{f: getattr(tenant, f) for f in services.PROFILE_FIELDS},
        login_email=user.email if user.is_root else "", login_email_pending=pending.new_email if pending else None,
    )


@router.get("/account/profile", response=ProfileOut, summary="Contract holder information (S-ACC-3)")
def profile(request: HttpRequest) -> ProfileOut:
    user = _user(request)
    selectors.contract_summary(user=user)  # the Account:read check
    assert user.tenant is not None
    return _profile_out(user, user.tenant)


@router.patch("/account/profile", response={200: ProfileOut, 403: ErrorOut, 422: ErrorOut},
              summary="Update the contract holder information (root user; billing details are separate)")
def profile_update(request: HttpRequest, payload: ProfileIn) -> ProfileOut:
    user = _user(request)
    fields = {k: v for k, v in payload.model_dump().items() if v is not None}
    tenant = services.contract_holder_update(actor=user, **fields)
    return _profile_out(user, tenant)


class SessionSettingsOut(Schema):
    session_idle_minutes: int = Field(description="A signed-in browser session without any request for this many "
                                                  "minutes is signed out.")
    minimum: int
    maximum: int
    can_change: bool = Field(description="Whether the calling user may change it (the root user).")


class SessionSettingsIn(Schema):
    session_idle_minutes: int = Field(ge=services.IDLE_MINUTES_MIN, le=services.IDLE_MINUTES_MAX)


def _session_settings_out(user: User, tenant: Tenant) -> SessionSettingsOut:
    return SessionSettingsOut(session_idle_minutes=tenant.session_idle_minutes, minimum=services.IDLE_MINUTES_MIN,
                              maximum=services.IDLE_MINUTES_MAX, can_change=bool(user.is_root))


@router.get("/account/session-settings", response={200: SessionSettingsOut},
            summary="Sign-in settings: the idle timeout of browser sessions")
def session_settings(request: HttpRequest) -> SessionSettingsOut:
    user = _user(request)
    assert user.tenant is not None  # every user of the tenant may read it: it applies to them
    return _session_settings_out(user, user.tenant)


@router.patch("/account/session-settings", response={200: SessionSettingsOut, 403: ErrorOut, 422: ErrorOut},
              summary="Change the idle timeout of browser sessions (root user)")
def session_settings_update(request: HttpRequest, payload: SessionSettingsIn) -> SessionSettingsOut:
    user = _user(request)
    tenant = services.session_settings_update(actor=user, session_idle_minutes=payload.session_idle_minutes)
    return _session_settings_out(user, tenant)


class LoginEmailIn(Schema):
    email: EmailText


class LoginEmailOut(Schema):
    pending_email: str
    expires_at: dt.datetime


@router.post("/account/login-email", response={202: LoginEmailOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
             summary="Ask to change the root user's login email: a link valid 24 h is mailed to the new address")
def login_email_request(request: HttpRequest, payload: LoginEmailIn) -> Status[LoginEmailOut]:
    link_base = request.build_absolute_uri(reverse("account:login_email_confirm"))
    change = login_email_change_request(actor=_user(request), new_email=payload.email, link_base=link_base)
    return Status(202, LoginEmailOut(pending_email=change.new_email, expires_at=change.expires_at))


class TokenIn(Schema):
    token: str


@router.post("/account/login-email/confirm", response={200: ProfileOut, 400: ErrorOut, 409: ErrorOut},
             summary="Confirm the login email change with the token of the mailed link (single use)")
def login_email_confirm(request: HttpRequest, payload: TokenIn) -> ProfileOut:
    user = login_email_change_confirm(actor=_user(request), token=payload.token)
    assert user.tenant is not None
    return _profile_out(user, user.tenant)


@router.delete("/account/login-email", response={204: None, 403: ErrorOut},
               summary="Withdraw a pending login email change")
def login_email_withdraw(request: HttpRequest) -> Status[None]:
    login_email_change_withdraw(actor=_user(request))
    return Status(204, None)


class TransferLineOut(Schema):
    iccid: str
    msisdn: str


class TransferOut(Schema):
    transfer_id: int
    direction: str
    status: str
    from_operator_id: str
    to_operator_id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    lines: list[TransferLineOut]


class NewTransferOut(TransferOut):
    token: str


class TransferIn(Schema):
    """Issue 14: the document states the form of each field; which lines exist is data (404 ``NOT_FOUND``
    for a line that is not the account's, 409 for one that cannot be transferred)."""

    to_operator_id: str = Field(description="The receiving account: `OP` and 10 digits (not your own).",
                                json_schema_extra={"pattern": trimmed(r"^[Oo][Pp][0-9]{10}$")})
    lines: list[Annotated[str, WithJsonSchema({"type": "string", "pattern": f"[^{SPACE}]"})]] = Field(
        description="1 to 1000 SIMs: line IDs, ICCIDs or phone numbers.",
        json_schema_extra={"minItems": 1, "maxItems": services.MAX_TRANSFER_LINES})


def _transfer_out(user: User, t: SimTransfer) -> TransferOut:
    status = t.status if t.status != "open" or selectors.transfer_is_open(t) else "expired"
    return TransferOut(
        transfer_id=t.pk, direction="out" if t.from_tenant_id == user.tenant_id else "in", status=status,
        from_operator_id=t.from_tenant.public_id, to_operator_id=t.to_public_id, created_at=t.created_at,
        expires_at=t.expires_at, accepted_at=t.accepted_at,
        lines=[TransferLineOut(iccid=i.iccid, msisdn=i.msisdn) for i in selectors.transfer_items(t)],
    )


@router.get("/account/transfers", response=list[TransferOut], summary="SIM transfers sent and received (S-ACC-4)")
def transfers(request: HttpRequest) -> list[TransferOut]:
    user = _user(request)
    return [_transfer_out(user, t) for t in selectors.transfer_list(user=user)]


@router.post("/account/transfers", response={201: NewTransferOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                                             422: ErrorOut},
             summary="Offer never-used SIMs to another account; the token is shown only in this answer")
def transfer_create(request: HttpRequest, payload: TransferIn) -> Status[NewTransferOut]:
    user = _user(request)
    new = services.transfer_create(actor=user, to_operator_id=payload.to_operator_id, lines=payload.lines)
    return Status(201, NewTransferOut(**_transfer_out(user, new.transfer).model_dump(), token=new.token))


@router.post("/account/transfers/preview", response={200: TransferOut, 400: ErrorOut, 403: ErrorOut},
             summary="Receiving account: see the SIMs a transfer token offers (nothing changes)")
def transfer_preview(request: HttpRequest, payload: TokenIn) -> TransferOut:
    user = _user(request)
    return _transfer_out(user, services.transfer_preview(actor=user, token=payload.token))


@router.post("/account/transfers/accept", response={200: TransferOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut},
             summary="Receiving account: accept — every SIM moves, or none when one has been used meanwhile")
def transfer_accept(request: HttpRequest, payload: TokenIn) -> TransferOut:
    user = _user(request)
    return _transfer_out(user, services.transfer_accept(actor=user, token=payload.token))


@router.get("/account/transfers/{transfer_id}", response={200: TransferOut, 404: ErrorOut},
            summary="One transfer this account sent or received")
def transfer_get(request: HttpRequest, transfer_id: Id) -> TransferOut:
    user = _user(request)
    return _transfer_out(user, selectors.transfer_get(user=user, transfer_id=transfer_id))


@router.post("/account/transfers/{transfer_id}/cancel", response={200: TransferOut, 404: ErrorOut, 409: ErrorOut},
             summary="Withdraw an open transfer this account sent")
def transfer_cancel(request: HttpRequest, transfer_id: Id) -> TransferOut:
    user = _user(request)
    return _transfer_out(user, services.transfer_cancel(actor=user, transfer_id=transfer_id))


class DeletionOut(Schema):
    deletable: bool
    blockers: dict


class DeletionIn(Schema):
    operator_id: str
    password: str


class DeletedOut(Schema):
    operator_id: str
    deleted_at: dt.datetime


@router.get("/account/deletion", response={200: DeletionOut, 403: ErrorOut},
            summary="What still blocks deleting the account (S-ACC-5)")
def deletion_check(request: HttpRequest) -> DeletionOut:
    b = selectors.deletion_blockers(user=_user(request))
    return DeletionOut(deletable=b.ok, blockers=b.as_dict())


@router.post("/account/deletion", response={200: DeletedOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut},
             summary="Delete the account (irreversible; root user; type the operator ID and the password)")
def deletion(request: HttpRequest, payload: DeletionIn) -> DeletedOut:
    tenant = services.account_delete(actor=_user(request), operator_id=payload.operator_id,
                                     password=payload.password)
    assert tenant.deleted_at is not None
    return DeletedOut(operator_id=tenant.public_id, deleted_at=tenant.deleted_at)
