from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    tenant = getattr(user, "tenant", None) if user is not None and user.is_authenticated else None
    return {"current_tenant": tenant, "dev_mail_enabled": settings.KAISEN_DEV_MAIL}
