from __future__ import annotations

from typing import Any

from django.db import transaction

from kaisen.core.tasks import send_mail_task


def mail_after_commit(*, to: list[str], subject: str, body: str) -> None:
    """Queue an email that is sent only if the surrounding transaction commits."""
    transaction.on_commit(lambda: send_mail_task.enqueue(to=to, subject=subject, body=body))


def security_notice(user: Any, subject: str, body: str) -> None:
    """Tell a user about a change to their credentials or sign-in (password, lock, API key, two-step login).

    To the user's email, else the tenant's notification address; sent only if the change commits. The
    caller never puts a secret in ``body``.
    """
    to = user.email or (user.tenant.notification_email if user.tenant else "")
    if to:
        mail_after_commit(to=[to], subject=f"[Kaisen] {subject}", body=str(body))
