from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{6,32}$")


def validate_username(value: str) -> None:
    """M-USER-2: 6 to 32 characters of half-width letters, digits and underscore."""
    if not USERNAME_RE.fullmatch(value or ""):
        raise ValidationError(
            _("A username is 6 to 32 characters of letters (A-Z, a-z), digits (0-9) and underscore (_)."),
            code="invalid_username",
        )
