"""``{% load access_tags %}``: ``{% if request.user|can:"Line:cancel" %}`` hides what the user may not use."""

from __future__ import annotations

from typing import Any

from django import template

from kaisen.access.services import can as _can

register = template.Library()


@register.filter
def can(user: Any, action: str) -> bool:
    """False for anonymous users and operator staff; the root user passes everything (issue 5 §1)."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "tenant_id", None) is None:
        return False
    return _can(user=user, action=action)
