"""The second login step after a correct password, registered by the mfa app.

``mfa`` builds on ``accounts`` (its users, login services and pages), so accounts cannot import mfa back
(issue 16 §3, docs/decisions/0006-layers.md). The login page and ``POST /auth`` still have to start the
second step: ``MfaConfig.ready()`` registers it here and they call it through :func:`second_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kaisen.core.registry import Slot


@dataclass(frozen=True)
class ApiStep:
    """What follows a correct password on the API: a challenge to answer, or enrolment due, or neither."""

    challenge_id: str | None = None
    methods: list[str] = field(default_factory=list)
    enrol: bool = False


@dataclass(frozen=True)
class SecondStep:
    #: ``web(request, user, *, next_url)`` → the code or enrolment page, or None to log in now.
    web: Callable[..., Any]
    #: ``api(*, user, channel)`` → :class:`ApiStep`.
    api: Callable[..., ApiStep]


_slot: Slot[SecondStep] = Slot("Login needs kaisen.mfa in INSTALLED_APPS: it registers the second login step "
                               "(kaisen.accounts.second_step.register).")
register = _slot.register
#: The registered second step.
second_step = _slot.get
