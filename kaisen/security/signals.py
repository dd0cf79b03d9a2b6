"""Every login registers its session; every logout ends its record (whichever view does it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from kaisen.accounts.models import User


@receiver(user_logged_in, dispatch_uid="kaisen.security.session_register")
def _registered(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    from kaisen.security.sessions import session_register

    if request is not None and isinstance(user, User) and hasattr(request, "session"):
        session_register(request, user)


@receiver(user_logged_out, dispatch_uid="kaisen.security.session_ended")
def _ended(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    from kaisen.security.sessions import session_ended

    if request is not None and hasattr(request, "session"):
        session_ended(request.session.session_key, "logout")
