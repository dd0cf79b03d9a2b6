from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    """What the layout needs on every page: the tenant, and which menu entries this user may see."""
    user = getattr(request, "user", None)
    authenticated = user is not None and user.is_authenticated
    tenant = getattr(user, "tenant", None) if authenticated else None
    is_staff = bool(authenticated and getattr(user, "is_staff", False) and tenant is None)
    return {
        "current_tenant": tenant,
        "dev_mail_enabled": settings.KAISEN_DEV_MAIL,
        "menu_is_root": bool(tenant is not None and getattr(user, "is_root", False)),
        "menu_is_staff": is_staff,
        "menu_dev_mail": bool(settings.KAISEN_DEV_MAIL and is_staff),
    }
