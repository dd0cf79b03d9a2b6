from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def mails(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Mails queued by the account services and security notices (recorded instead of queued)."""
    sent: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        sent.append(kwargs)

    for module in ("kaisen.core.mail", "kaisen.accounts.email_login", "kaisen.account.services",
                   "kaisen.mfa.services"):
        monkeypatch.setattr(f"{module}.mail_after_commit", record)
    return sent
