from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kaisen.access.actions import ACCOUNT_MANAGE, LINE_TRANSFER
from kaisen.access.services import authorize, line_scope
from kaisen.accounts.services import token_cache_clear
from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.mail import mail_after_commit
from kaisen.core.tokens import secret_digest
from kaisen.lines.history import lines_record_change
from kaisen.lines.models import Line, LinePeriodReason
from kaisen.tenancy.models import SimTransfer, SimTransferLine, Tenant, TransferStatus

if TYPE_CHECKING:
    from kaisen.accounts.models import User


# --- contract holder info (S-ACC-3) -------------------------------------------------------------------

PROFILE_FIELDS = ("contact_name", "contact_name_kana", "contact_phone", "contact_email", "notification_email",
                  "postal_code", "address")
_KATAKANA = re.compile(r"^[ァ-ヶー・　 ]*$")
PHONE_PATTERN = r"^0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}$"
POSTAL_PATTERN = r"^[0-9]{3}-?[0-9]{4}$"
_PHONE = re.compile(PHONE_PATTERN)
_POSTAL = re.compile(POSTAL_PATTERN)


def _require_root(actor: User, message: str) -> Tenant:
    if actor.tenant is None or not actor.is_root:
        raise DomainError(ErrorCode.PERMISSION_DENIED, message)
    return actor.tenant


@transaction.atomic
def contract_holder_update(*, actor: User, **fields: str) -> Tenant:
    """S-ACC-3: the root user updates the contract holder's contact details and address. The company name is
    not changed here (seed 001 §6.1-6.2: a name change goes through the operator); billing details are
    separate (the payments pages)."""
    _require_root(actor, _("Only the tenant's root user can change the contract holder information."))
    authorize(user=actor, action=ACCOUNT_MANAGE)
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown field: %(field)s.") % {"field": sorted(unknown)[0]},
                          field=sorted(unknown)[0])
    tenant = Tenant.objects.select_for_update().get(pk=_require_root(actor, "").pk)
    clean: dict[str, str] = {}
    for name, value in fields.items():
        value = unicodedata.normalize("NFKC", value or "").strip() if name in (
            "contact_phone", "postal_code", "contact_email", "notification_email") else (value or "").strip()
        clean[name] = value
    _profile_check(clean)
    changes: dict[str, list[object]] = {}
    for name, value in clean.items():
        if name == "postal_code" and value and "-" not in value:
            value = f"{value[:3]}-{value[3:]}"
        if getattr(tenant, name) != value:
            changes[name] = [getattr(tenant, name), value]
            setattr(tenant, name, value)
    if changes:
        tenant.save(update_fields=[*changes, "updated_at"])
        audit_record(action="account.contract_holder.update", tenant=tenant, user=actor, target=tenant,
                     changes=changes)
    return tenant


# --- sign-in security: the idle timeout of the tenant's browser sessions (issue 14) -------------------------

#: Bounds of ``Tenant.session_idle_minutes`` (the model's validators say the same).
IDLE_MINUTES_MIN = 5
IDLE_MINUTES_MAX = 24 * 60


@transaction.atomic
def session_settings_update(*, actor: User, session_idle_minutes: object) -> Tenant:
    """The root user sets after how many idle minutes a signed-in browser session of the tenant ends."""
    _require_root(actor, _("Only the tenant's root user can change the sign-in settings."))
    authorize(user=actor, action=ACCOUNT_MANAGE)
    try:
        minutes = int(str(session_idle_minutes).strip()) if not isinstance(session_idle_minutes, bool) else None
    except ValueError:
        minutes = None
    if minutes is None or not IDLE_MINUTES_MIN <= minutes <= IDLE_MINUTES_MAX:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _(
            "Enter a whole number of minutes from %(min)d to %(max)d.") % {
            "min": IDLE_MINUTES_MIN, "max": IDLE_MINUTES_MAX}, field="session_idle_minutes")
    tenant = Tenant.objects.select_for_update().get(pk=_require_root(actor, "").pk)
    if tenant.session_idle_minutes != minutes:
        audit_record(action="account.session_settings.update", tenant=tenant, user=actor, target=tenant,
                     changes={"session_idle_minutes": [tenant.session_idle_minutes, minutes]})
        tenant.session_idle_minutes = minutes
        tenant.save(update_fields=["session_idle_minutes", "updated_at"])
    return tenant


def _profile_check(data: dict[str, str]) -> None:
    from django.core.validators import validate_email

    def bad(field: str, message: str) -> None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, message, field=field)

    for name, value in data.items():
        if "\x00" in value:
            bad(name, _("Null characters are not allowed."))
    limits = {"contact_name": 100, "contact_name_kana": 100, "contact_phone": 20, "address": 200}
    for name, limit in limits.items():
        if len(data.get(name, "")) > limit:
            bad(name, _("At most %(n)d characters.") % {"n": limit})
    for name in ("contact_email", "notification_email"):
        if name in data:
            if not data[name]:
                bad(name, _("This field is required."))
            try:
                validate_email(data[name])
            except ValidationError:
                bad(name, _("Enter a valid email address."))
    if data.get("contact_name_kana") and not _KATAKANA.match(data["contact_name_kana"]):
        bad("contact_name_kana", _("Write the name in full-width katakana."))
    if data.get("contact_phone") and not _PHONE.match(data["contact_phone"]):
        bad("contact_phone", _("Enter a Japanese phone number, e.g. 03-1234-5678."))
    if data.get("postal_code") and not _POSTAL.match(data["postal_code"]):
        bad("postal_code", _("Enter a postal code of 7 digits, e.g. 105-0011."))


# --- SIM transfer (S-ACC-4) ---------------------------------------------------------------------------

#: How long the receiving account has to accept a transfer.
TRANSFER_TTL = dt.timedelta(days=7)
MAX_TRANSFER_LINES = 1000


def transfer_token_normalize(token: str) -> str:
    return re.sub(r"[^A-Z2-7]", "", unicodedata.normalize("NFKC", token or "").upper())


def _token_hash(token: str) -> str:
    return secret_digest(transfer_token_normalize(token))


def _new_transfer_token() -> str:
    raw = base64.b32encode(secrets.token_bytes(15)).decode()  # 24 characters, 120 bits
    return "-".join(raw[i:i + 4] for i in range(0, 24, 4))


@dataclass(frozen=True)
class NewTransfer:
    transfer: SimTransfer
    token: str


def _lines_from_refs(tenant: Tenant, user: User, refs: list[str]) -> list[Line]:
    from kaisen.core.numbers import looks_like_iccid
    from kaisen.lines.selectors import line_get

    lines: dict[int, Line] = {}
    for ref in refs:
        ref = str(ref).strip()
        if not ref:
            continue
        try:
            if ref.isascii() and ref.isdigit() and len(ref) < 10:
                line = line_get(tenant=tenant, line_id=int(ref))
            elif looks_like_iccid(ref):
                line = line_get(tenant=tenant, iccid=ref)
            else:
                line = line_get(tenant=tenant, msisdn=ref)
        except DomainError as exc:
            raise DomainError(ErrorCode.NOT_FOUND, _("No such line: %(ref)s") % {"ref": ref}, field="lines") from exc
        if not Line.objects.filter(pk=line.pk).filter(line_scope(user=user)).exists():
            raise DomainError(ErrorCode.NOT_FOUND, _("No such line: %(ref)s") % {"ref": ref}, field="lines")
        lines[line.pk] = line
    return list(lines.values())


def _refuse_used(lines: list[Line], *, open_elsewhere: set[int]) -> None:
    from kaisen.account.selectors import BLOCKER_LABELS, lines_transfer_blockers

    blockers = lines_transfer_blockers(lines)
    refused: list[dict[str, Any]] = []
    for line in lines:
        reasons = blockers[line.pk]
        if line.pk in open_elsewhere:
            reasons.append("in_transfer")
        if reasons:
            refused.append({"line_id": line.pk, "iccid": line.iccid, "msisdn": line.msisdn or "", "reasons": reasons})
    if refused:
        first = refused[0]
        why: list[str] = first["reasons"]
        message = _("%(line)s cannot be transferred: %(why)s.") % {
            "line": first["msisdn"] or first["iccid"], "why": ", ".join(str(BLOCKER_LABELS[r]) for r in why)}
        if len(refused) > 1:
            message += " " + _("%(n)d more lines are refused too.") % {"n": len(refused) - 1}
        raise DomainError(ErrorCode.LINE_NOT_TRANSFERABLE, message, field="lines", details={"refused": refused})


@transaction.atomic
def transfer_create(*, actor: User, to_operator_id: str, lines: list[str]) -> NewTransfer:
    """The root user of the sending account offers never-used SIMs to the account ``to_operator_id``.

    Returns the single-use token (shown once; only its hash is kept). Nothing moves until it is accepted.
    """
    from kaisen.tenancy.models import operator_id_validator

    tenant = _require_root(actor, _("Only the tenant's root user can transfer SIMs."))
    authorize(user=actor, action=LINE_TRANSFER)
    to_id = (to_operator_id or "").strip().upper()
    try:
        operator_id_validator(to_id)
    except ValidationError as exc:
        raise DomainError(ErrorCode.INVALID_OPERATOR_ID, exc.messages[0], field="to_operator_id") from exc
    if to_id == tenant.public_id:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose another account than your own."),
                          field="to_operator_id")
    chosen = _lines_from_refs(tenant, actor, lines)
    if not chosen:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose at least one SIM."), field="lines")
    if len(chosen) > MAX_TRANSFER_LINES:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("At most %(n)d SIMs per transfer.")
                          % {"n": MAX_TRANSFER_LINES}, field="lines")
    locked = list(Line.objects.select_for_update().filter(pk__in=[line.pk for line in chosen]).order_by("pk"))
    now = clock.now()
    busy = set(SimTransferLine.objects.filter(line__in=locked, transfer__status=TransferStatus.OPEN,
                                              transfer__expires_at__gt=now).values_list("line_id", flat=True))
    _refuse_used(locked, open_elsewhere=busy)
    token = _new_transfer_token()
    transfer = SimTransfer.objects.create(from_tenant=tenant, to_public_id=to_id, token_hash=_token_hash(token),
                                          created_by=actor, created_at=now, expires_at=now + TRANSFER_TTL)
    SimTransferLine.objects.bulk_create([SimTransferLine(transfer=transfer, line=line, iccid=line.iccid,
                                                         msisdn=line.msisdn or "") for line in locked])
    audit_record(action="transfer.create", tenant=tenant, user=actor, target=transfer,
                 changes={"to": [None, to_id], "lines": [None, [line.iccid for line in locked]]})
    return NewTransfer(transfer=transfer, token=token)


@transaction.atomic
def transfer_cancel(*, actor: User, transfer_id: int) -> SimTransfer:
    tenant = _require_root(actor, _("Only the tenant's root user can transfer SIMs."))
    authorize(user=actor, action=LINE_TRANSFER)
    transfer = SimTransfer.objects.select_for_update().filter(pk=transfer_id, from_tenant=tenant).first()
    if transfer is None:
        raise NotFound(_("No such transfer."))
    if transfer.status != TransferStatus.OPEN:
        raise DomainError(ErrorCode.TRANSFER_NOT_OPEN)
    transfer.status, transfer.cancelled_at = TransferStatus.CANCELLED, clock.now()
    transfer.save(update_fields=["status", "cancelled_at"])
    audit_record(action="transfer.cancel", tenant=tenant, user=actor, target=transfer,
                 changes={"status": [TransferStatus.OPEN, TransferStatus.CANCELLED]})
    return transfer


def _open_transfer_for(tenant: Tenant, token: str, *, lock: bool) -> SimTransfer:
    qs = SimTransfer.objects.select_related("from_tenant")
    if lock:
        qs = qs.select_for_update(of=("self",))
    transfer = qs.filter(token_hash=_token_hash(token)).first() if transfer_token_normalize(token) else None
    if (transfer is None or transfer.status != TransferStatus.OPEN or transfer.expires_at <= clock.now()
            or transfer.to_public_id != tenant.public_id):
        raise DomainError(ErrorCode.TRANSFER_TOKEN_INVALID, field="token")
    return transfer


def transfer_preview(*, actor: User, token: str) -> SimTransfer:
    """The receiving root user enters the token and sees the offered SIMs (nothing changes)."""
    tenant = _require_root(actor, _("Only the tenant's root user can accept SIMs."))
    authorize(user=actor, action=LINE_TRANSFER)
    try:
        return _open_transfer_for(tenant, token, lock=False)
    except DomainError:
        audit_record(action="transfer.preview", tenant=tenant, user=actor, success=False,
                     changes={"reason": "token_invalid"})
        raise


def transfer_accept(*, actor: User, token: str) -> SimTransfer:
    """Move every offered SIM to the receiving account at once — or none, when one of them has been used
    meanwhile (or the token is invalid, expired, used, or meant for another account)."""
    tenant = _require_root(actor, _("Only the tenant's root user can accept SIMs."))
    authorize(user=actor, action=LINE_TRANSFER)
    try:
        return _accept(actor, tenant, token)
    except DomainError as exc:
        audit_record(action="transfer.accept", tenant=tenant, user=actor, success=False,
                     changes={"reason": str(exc.code)})
        raise


@transaction.atomic
def _accept(actor: User, tenant: Tenant, token: str) -> SimTransfer:
    transfer = _open_transfer_for(tenant, token, lock=True)
    sender = transfer.from_tenant
    ids = list(transfer.items.values_list("line_id", flat=True))
    lines = list(Line.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    moved_away = [line for line in lines if line.tenant_id != sender.pk]
    if moved_away or len(lines) != len(ids):
        raise DomainError(ErrorCode.LINE_NOT_TRANSFERABLE, _("A SIM of this transfer no longer belongs to the "
                                                              "sending account."))
    _refuse_used(lines, open_elsewhere=set())
    now = clock.now()
    Line.objects.filter(pk__in=ids).update(tenant=tenant, updated_at=now)
    # The sender's intervals of these lines end now and the receiver's begin (issue 10 §1).
    lines_record_change(line_ids=ids, at=now, reason=LinePeriodReason.TRANSFER)
    transfer.status, transfer.to_tenant, transfer.accepted_by, transfer.accepted_at = (
        TransferStatus.ACCEPTED, tenant, actor, now)
    transfer.save(update_fields=["status", "to_tenant", "accepted_by", "accepted_at"])
    iccids = [line.iccid for line in lines]
    # One entry in each account's log; neither names the other account's users.
    audit_record(action="transfer.send", tenant=sender, actor=f"account:{tenant.public_id}", target=transfer,
                 changes={"lines": [iccids, None], "to": tenant.public_id})
    audit_record(action="transfer.accept", tenant=tenant, user=actor, target=transfer,
                 changes={"lines": [None, iccids], "from": sender.public_id})
    return transfer


# --- account deletion (S-ACC-5) -----------------------------------------------------------------------

def account_delete(*, actor: User, operator_id: str, password: str) -> Tenant:
    """The root user closes the account: only when nothing blocks it (every line cancelled, no open order,
    every invoice settled, no service still applied), confirmed by typing the operator ID and the password.

    Irreversible in the portal: the tenant is deactivated with a deletion time, every user deactivated, every
    session and API token ended and every API key revoked. Nothing is removed: invoices are kept for the
    7 years the law requires, and the audit log, lines and orders stay for the operator.
    """
    tenant = _require_root(actor, _("Only the tenant's root user can delete the account."))
    authorize(user=actor, action=ACCOUNT_MANAGE)
    try:
        return _delete(actor, tenant, operator_id, password)
    except DomainError as exc:
        audit_record(action="account.delete", tenant=tenant, user=actor, success=False,
                     changes={"reason": str(exc.code)})
        raise


@transaction.atomic
def _delete(actor: User, tenant: Tenant, operator_id: str, password: str) -> Tenant:
    from kaisen.account.selectors import deletion_blockers_of
    from kaisen.accounts.models import ApiKey, ApiToken
    from kaisen.accounts.models import User as UserModel
    from kaisen.security.sessions import sessions_end_all

    if (operator_id or "").strip().upper() != tenant.public_id or not actor.check_password(password or ""):
        raise DomainError(ErrorCode.DELETION_CONFIRMATION_INVALID)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    blockers = deletion_blockers_of(tenant)
    if not blockers.ok:
        raise DomainError(ErrorCode.ACCOUNT_NOT_DELETABLE, details=blockers.as_dict())
    now = clock.now()
    tenant.is_active, tenant.deleted_at = False, now
    tenant.save(update_fields=["is_active", "deleted_at", "updated_at"])
    users = list(UserModel.objects.filter(tenant=tenant))
    UserModel.objects.filter(tenant=tenant).update(is_active=False)
    for user in users:
        sessions_end_all(user=user, except_key=None, reason="account_deleted")
    ApiToken.objects.filter(tenant=tenant, revoked_at__isnull=True).update(revoked_at=now)
    ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).update(revoked_at=now)
    token_cache_clear()  # this process at once; the others within KAISEN_API_TOKEN_CACHE_SECONDS
    transaction.on_commit(token_cache_clear)
    SimTransfer.objects.filter(from_tenant=tenant, status=TransferStatus.OPEN).update(
        status=TransferStatus.CANCELLED, cancelled_at=now)
    audit_record(action="account.delete", tenant=tenant, user=actor, target=tenant,
                 changes={"is_active": [True, False], "deleted_at": [None, now.isoformat()],
                          "users_deactivated": len(users)})
    mail_after_commit(
        to=[addr for addr in {actor.email, tenant.notification_email} if addr],
        subject=_("[Kaisen] Your account was deleted"),
        body=_("Account %(operator_id)s (%(name)s) was deleted by its root user. Nobody can log in to it any "
               "more. Invoices and records are kept as the law requires; contact the operator for copies.")
        % {"operator_id": tenant.public_id, "name": tenant.legal_name})
    return tenant
