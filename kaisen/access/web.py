"""The page guard of access rules (issue 5 §1): a view only a user who may perform an action can open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kaisen.access.services import ActionDenied, can
from kaisen.core.web import View, guard


def action_required(action: str) -> Callable[[View], View]:
    """A tenant user who may perform ``action`` (issue 5 §1; the root user always may): else the 403 page."""
    def check(user: Any) -> bool:
        return user.tenant_id is not None and can(user=user, action=action)

    def denied() -> Exception:
        return ActionDenied(action)  # the 403 page names the permission that is missing

    return guard(check, denied)
