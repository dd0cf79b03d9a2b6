"""Reading statements, always through the tenant (and, for a limited user, only their own requests)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kaisen.access.services import line_scope
from kaisen.core.errors import NotFound
from kaisen.statements.models import Statement


def _visible(*, tenant: Any, user: Any) -> QuerySet[Statement]:
    """A user who sees every line sees every statement of the tenant; a limited user (``line_scope`` not
    empty) only the statements they requested, whose rows were limited to their lines."""
    qs = Statement.objects.filter(tenant=tenant)
    if user is not None and line_scope(user=user) != Q():
        qs = qs.filter(requested_by=user)
    return qs


def statement_list(*, tenant: Any, user: Any, limit: int = 50) -> list[Statement]:
    qs = _visible(tenant=tenant, user=user).select_related("requested_by")
    return list(qs.order_by("-created_at", "-id")[:limit])


def statement_get(*, tenant: Any, user: Any, statement_id: int) -> Statement:
    statement = _visible(tenant=tenant, user=user).select_related("tenant", "requested_by").filter(
        pk=statement_id).first()
    if statement is None:
        raise NotFound()
    return statement
