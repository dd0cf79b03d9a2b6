"""``{% load access_tags %}``: ``{% if request.user|can:"Line:cancel" %}`` hides what the user may not use."""

from __future__ import annotations

from typing import Any

from django import template

from kaisen.access.services import can as _can
from kaisen.access.services import line_tags_of, role_label, user_roles

register = template.Library()


@register.filter
def can(user: Any, action: str) -> bool:
    """False for anonymous users and operator staff; the root user passes everything (issue 5 §1)."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "tenant_id", None) is None:
        return False
    return _can(user=user, action=action)


@register.simple_tag(takes_context=True)
def line_tags_for(context: dict[str, Any], line: Any) -> list[Any]:
    """The tags of ``line`` the signed-in user may see (a line-limited user: only theirs)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if line is None or user is None or getattr(user, "tenant_id", None) != line.tenant_id:
        return []
    return line_tags_of(tenant=line.tenant, line=line, user=user)


@register.filter
def role_names(user: Any) -> list[str]:
    """The names of the roles given to ``user`` (the user list, M-USER-1)."""
    if user is None or getattr(user, "pk", None) is None:
        return []
    return [role_label(r) for r in user_roles(user=user)]


@register.filter
def allowed_procedures(user: Any) -> list[str]:
    """What each procedure ``user`` may start lets them do (the home page's procedures tile lists only
    these, issue 14); MNP port-in activation has its own tile."""
    from kaisen.access.actions import ACTIONS, ORDER_KIND_ACTIONS

    return [str(ACTIONS[action]) for kind, action in ORDER_KIND_ACTIONS.items()
            if kind != "mnp_activation" and can(user, action)]
