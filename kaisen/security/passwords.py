"""Password rules per tenant, password change and password reset by email link (issue 5 §4).

A tenant's ``password_profile`` picks the rules: SECURE uses ``AUTH_PASSWORD_VALIDATORS`` (10+
characters, not similar to the username, not a common password, not all digits); LEGACY_K3 is the
seed's K-3 rule (4-8 characters, letters and digits mixed, not the user ID) — weaker, for customers who
need the old behaviour. See docs/security.md.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import get_default_password_validators
from django.contrib.auth.password_validation import validate_password as django_validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kaisen.accounts.models import User
from kaisen.audit.services import audit_record
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.mail import mail_after_commit, security_notice
from kaisen.tenancy.models import PasswordProfile, Tenant

K3_CHARS = re.compile(r"^[A-Za-z0-9]+$")
#: Reset mails one user can be sent per hour (the form cannot be used to flood a mailbox).
RESET_MAILS_PER_HOUR = 3


class LegacyK3Validator:
    """Seed K-3: 4 to 8 half-width letters and digits, both present; case-sensitive; not the user ID."""

    min_length = 4
    max_length = 8

    def validate(self, password: str, user: Any = None) -> None:
        errors = []
        if not (self.min_length <= len(password) <= self.max_length):
            errors.append(ValidationError(gettext_lazy("The password must be 4 to 8 characters long."),
                                          code="password_k3_length"))
        if not K3_CHARS.fullmatch(password or "x") or not re.search(r"[A-Za-z]", password) or not re.search(
                r"[0-9]", password):
            errors.append(ValidationError(
                gettext_lazy("The password must mix half-width letters (A-Z, a-z) and digits (0-9), and "
                             "contain nothing else."), code="password_k3_mix"))
        username = getattr(user, "username", "") or ""
        if username and password.lower() == username.lower():
            errors.append(ValidationError(gettext_lazy("The password must differ from your user ID."),
                                          code="password_k3_user_id"))
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return str(gettext_lazy("4 to 8 characters mixing half-width letters and digits; not your user ID; "
                                "upper and lower case differ."))


def password_validators(tenant: Tenant | None) -> list[Any]:
    """The validators of the tenant's password profile (operator staff: the secure rules)."""
    if tenant is not None and tenant.password_profile == PasswordProfile.LEGACY_K3:
        return [LegacyK3Validator()]
    return get_default_password_validators()


def password_validate(password: str, user: User) -> None:
    django_validate_password(password, user, password_validators=password_validators(user.tenant))


def password_help_texts(user: User) -> list[str]:
    """The rules shown next to a password field. Django's similarity rule speaks of "your other personal
    information", which means nothing on the page where a root user sets another user's password
    (issue 14): it is said in our words."""
    from django.contrib.auth.password_validation import UserAttributeSimilarityValidator

    return [_("Not similar to the user ID, name or email address.")
            if isinstance(v, UserAttributeSimilarityValidator) else str(v.get_help_text())
            for v in password_validators(user.tenant)]


def _set_password(user: User, new: str, repeat: str) -> None:
    if new != repeat:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The two new passwords do not match."), field="new_password2")
    try:
        password_validate(new, user)
    except ValidationError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, " ".join(exc.messages), field="new_password1") from exc
    user.set_password(new)
    user.save(update_fields=["password"])


def password_change(*, user: User, current: str, new: str, repeat: str) -> None:
    """M-USER-2 / K-3: current + new + repeat. A wrong current password counts as a failed login."""
    from kaisen.core.middleware import client_ip
    from kaisen.security import throttle

    keys = throttle.login_keys(user.tenant.public_id if user.tenant else "", user.username, client_ip())
    if throttle.throttle_reserve(keys) is not None or not user.check_password(current):
        throttle.throttle_failed(keys)
        audit_record(action="user.password_change", tenant=user.tenant, user=user, target=user, success=False,
                     changes={"reason": "current_password"})
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The current password is incorrect."),
                          field="current_password")
    throttle.throttle_succeeded(keys)
    with transaction.atomic():
        _set_password(user, new, repeat)
        audit_record(action="user.password_change", tenant=user.tenant, user=user, target=user,
                     changes={"password": ["********", "********"]})
        security_notice(user, _("Your password was changed"),
                _("The password of user %(user)s was changed. If you did not do this, contact your "
                  "administrator at once.") % {"user": user.audit_label})


# --- reset by email link ----------------------------------------------------------------------------

reset_tokens = PasswordResetTokenGenerator()


def password_reset_request(*, request: HttpRequest, operator_id: str, username: str) -> None:
    """Send a reset link to the user's own email address, if there is such a user with an address.

    Answers nothing either way: the caller shows the same message whether or not the user exists.
    """
    operator_id = (operator_id or "").strip().upper()
    user = User.objects.select_related("tenant").filter(
        tenant__public_id=operator_id, tenant__is_active=True, username=username or "", is_active=True,
    ).first() if operator_id else None
    if user is None or not user.email or not user.has_usable_password():
        audit_record(action="user.password_reset_request", actor=f"{operator_id}:{username}"[:100], success=False)
        return
    from kaisen.security import throttle

    hour = dt.timedelta(hours=1)
    if throttle.throttle_reserve({"reset": (f"reset:{user.pk}", throttle.Rule(RESET_MAILS_PER_HOUR, hour, hour))}):
        audit_record(action="user.password_reset_request", tenant=user.tenant, user=user, target=user,
                     success=False, changes={"reason": "throttled"})
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = reset_tokens.make_token(user)
    link = request.build_absolute_uri(reverse("accounts:password_reset_confirm")) + f"?u={uid}&t={token}"
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    with transaction.atomic():
        audit_record(action="user.password_reset_request", tenant=user.tenant, user=user, target=user)
        mail_after_commit(to=[user.email], subject=_("[Kaisen] Reset your password"), body=_(
            "A password reset was requested for user %(user)s.\n\nOpen this link within %(minutes)d minutes to "
            "choose a new password (it works once):\n%(link)s\n\nIf you did not ask for this, ignore this mail; "
            "your password stays as it is.") % {"user": user.audit_label, "minutes": minutes, "link": link})


def password_reset_user(uidb64: str, token: str) -> User | None:
    """The user a reset link is for, or None when the link is malformed, used or expired."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64 or "")))
    except (ValueError, TypeError, OverflowError):
        return None
    user = User.objects.select_related("tenant").filter(pk=pk, is_active=True).first()
    if user is None or not reset_tokens.check_token(user, token or ""):
        return None
    return user


def password_reset_confirm(*, uidb64: str, token: str, new: str, repeat: str) -> User:
    """Set the new password; the link stops working (the token depends on the password hash)."""
    from kaisen.security.sessions import sessions_end_all

    user = password_reset_user(uidb64, token)
    if user is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("This reset link is invalid, used or expired."))
    with transaction.atomic():
        _set_password(user, new, repeat)
        sessions_end_all(user=user, except_key=None, reason="password_reset")
        audit_record(action="user.password_reset", tenant=user.tenant, user=user, target=user,
                     changes={"password": ["********", "********"]})
        security_notice(user, _("Your password was reset"),
                _("The password of user %(user)s was reset with an emailed link, and every session was "
                  "signed out. If you did not do this, contact your administrator at once.")
                % {"user": user.audit_label})
    return user
