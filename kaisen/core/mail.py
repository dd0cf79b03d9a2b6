from __future__ import annotations

from django.db import transaction

from kaisen.core.tasks import send_mail_task


def mail_after_commit(*, to: list[str], subject: str, body: str) -> None:
    """Queue an email that is sent only if the surrounding transaction commits."""
    transaction.on_commit(lambda: send_mail_task.enqueue(to=to, subject=subject, body=body))
