"""Permission checks (issue 5 §1). Services call these; no interface can bypass them.

SCAFFOLD: the policy engine is being written in this session; until it lands every tenant user is allowed
every action and sees every line, as before. The signatures are the contract other apps code against.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q


def can(*, user: Any, action: str) -> bool:
    """True when ``user`` may perform ``action`` (a name from ``kaisen.access.actions``)."""
    return True


def authorize(*, user: Any, action: str) -> None:
    """Raise ``DomainError(PERMISSION_DENIED)`` naming ``action`` unless ``user`` may perform it."""


def line_scope(*, user: Any, prefix: str = "") -> Q:
    """A filter limiting a query to the lines ``user`` may see; ``prefix`` is the path to the line
    (``"line__"`` for a model with a ``line`` foreign key). ``Q()`` when the user sees every line."""
    return Q()
