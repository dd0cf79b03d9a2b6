"""The root user's login by email (S-ACC-1) and the change of that email (S-ACC-3).

The email login is the operator-ID login with another way of naming the account: the address is resolved
to the root user's (operator ID, username) and the very same ``login_check`` runs — the same failed-login
limiter (one counter per account, whichever form is used), the same lock, the same audit entry, the same
generic error. An address that is no root user's gets the same hashing work and a counter of its own, so
the answer and its timing do not tell which addresses exist. The second step (two-step login) follows as
for every login.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kaisen.access.actions import ACCOUNT_MANAGE
from kaisen.access.services import authorize
from kaisen.accounts.models import LoginEmailChange, User
from kaisen.accounts.services import login_check
from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.mail import mail_after_commit, security_notice
from kaisen.core.tokens import new_link_token, secret_digest

#: A confirmation link is valid this long (S-ACC-3).
LINK_TTL = dt.timedelta(hours=24)
#: The operator-ID slot of the limiter key for addresses that are no root user's. It can never be an operator
#: ID ("OP" + 10 digits), so these counters never touch a real account's.
_NO_ACCOUNT = "EMAIL"


def email_normalize(email: str) -> str:
    return (email or "").strip().lower()


def root_user_by_email(email: str) -> User | None:
    email = email_normalize(email)
    if not email:
        return None
    return (User.objects.select_related("tenant")
            .filter(is_root=True, tenant__isnull=False, email__iexact=email).first())


def login_check_email(*, request: HttpRequest | None, email: str, password: str, channel: str = "web") -> User:
    """S-ACC-1: check the root user's email + password; every failure is the generic AUTHENTICATION_FAILED."""
    email = email_normalize(email)
    root = root_user_by_email(email)
    if root is not None and root.tenant is not None:
        return login_check(request=request, operator_id=root.tenant.public_id, username=root.username,
                           password=password, channel=channel)
    return login_check(request=request, operator_id=_NO_ACCOUNT, username=email[:150], password=password,
                       channel=channel)


# --- login email change (S-ACC-3) --------------------------------------------------------------------

def _require_root(actor: User) -> None:
    if actor.tenant_id is None or not actor.is_root:
        raise DomainError(ErrorCode.PERMISSION_DENIED, _("Only the tenant's root user can change the login email."))
    authorize(user=actor, action=ACCOUNT_MANAGE)


def login_email_pending(user: User) -> LoginEmailChange | None:
    return (LoginEmailChange.objects.filter(user=user, confirmed_at__isnull=True, withdrawn_at__isnull=True,
                                            expires_at__gt=clock.now()).order_by("-created_at").first())


@transaction.atomic
def login_email_change_request(*, actor: User, new_email: str, link_base: str) -> LoginEmailChange:
    """Mail a single-use link to ``new_email``; the login email changes only when it is opened.

    ``link_base`` is the absolute URL of the confirmation page; the token is appended as ``?token=``.
    A newer request withdraws the older pending one.
    """
    _require_root(actor)
    new_email = email_normalize(new_email)
    try:
        validate_email(new_email)
    except ValidationError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Enter a valid email address."), field="email") from exc
    if new_email == email_normalize(actor.email):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("This is already your login email."), field="email")
    if User.objects.filter(is_root=True, email__iexact=new_email).exclude(pk=actor.pk).exists():
        raise DomainError(ErrorCode.EMAIL_IN_USE, field="email")
    now = clock.now()
    LoginEmailChange.objects.filter(user=actor, confirmed_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=now)
    token, token_hash = new_link_token()
    change = LoginEmailChange.objects.create(user=actor, old_email=actor.email, new_email=new_email,
                                             token_hash=token_hash, created_at=now, expires_at=now + LINK_TTL)
    link = f"{link_base}?token={token}"
    mail_after_commit(
        to=[new_email], subject=_("[Kaisen] Confirm your new login email"),
        body=_("A change of the login email of account %(operator_id)s to this address was requested.\n\n"
               "Open this link within 24 hours to confirm it (you will be asked to log in):\n%(link)s\n\n"
               "Until then the current login email stays in force. If you did not ask for this, ignore this "
               "mail.") % {"operator_id": actor.tenant.public_id if actor.tenant else "", "link": link})
    audit_record(action="account.login_email.request", tenant=actor.tenant, user=actor, target=actor,
                 changes={"login_email": [actor.email, new_email], "state": "pending"})
    return change


def login_email_change_lookup(token: str) -> LoginEmailChange | None:
    if not token:
        return None
    change = LoginEmailChange.objects.select_related("user", "user__tenant").filter(
        token_hash=secret_digest(token)).first()
    if change is None or change.confirmed_at or change.withdrawn_at or change.expires_at <= clock.now():
        return None
    return change


def login_email_change_confirm(*, actor: User, token: str) -> User:
    """Open the link: only the user who asked, once, before it expires. The old address gets a notice."""
    try:
        return _confirm(actor, token)
    except DomainError as exc:
        # Outside the rolled-back transaction, so the refused attempt stays in the audit log.
        audit_record(action="account.login_email.change", tenant=actor.tenant, user=actor, success=False,
                     changes={"reason": str(exc.code)})
        raise


@transaction.atomic
def _confirm(actor: User, token: str) -> User:
    change = (LoginEmailChange.objects.select_for_update().select_related("user")
              .filter(token_hash=secret_digest(token or "")).first())
    if (change is None or change.user_id != actor.pk or change.confirmed_at or change.withdrawn_at
            or change.expires_at <= clock.now()):
        raise DomainError(ErrorCode.EMAIL_LINK_INVALID)
    user = User.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=actor.pk)
    if User.objects.filter(is_root=True, email__iexact=change.new_email).exclude(pk=user.pk).exists():
        raise DomainError(ErrorCode.EMAIL_IN_USE, field="email")
    old = user.email
    user.email = change.new_email
    try:
        with transaction.atomic():
            user.save(update_fields=["email"])
    except IntegrityError as exc:
        raise DomainError(ErrorCode.EMAIL_IN_USE, field="email") from exc
    change.confirmed_at = clock.now()
    change.save(update_fields=["confirmed_at"])
    audit_record(action="account.login_email.change", tenant=user.tenant, user=user, target=user,
                 changes={"login_email": [old, user.email]})
    notice = User(email=old, tenant=user.tenant)
    body = (_("The login email of account %(operator_id)s was changed from this address to another one. If you "
              "did not do this, contact the operator at once.")
            % {"operator_id": user.tenant.public_id if user.tenant else ""})
    security_notice(notice if old else user, _("Your login email was changed"), body)
    return user


@transaction.atomic
def login_email_change_withdraw(*, actor: User) -> bool:
    _require_root(actor)
    n = LoginEmailChange.objects.filter(user=actor, confirmed_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=clock.now())
    if n:
        audit_record(action="account.login_email.withdraw", tenant=actor.tenant, user=actor, target=actor)
    return bool(n)
