"""Background tasks (Django's Tasks API via the ``django-tasks`` backport)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task


@task()
def send_mail_task(*, to: list[str], subject: str, body: str) -> int:
    """Send one plain-text email. Enqueued after commit, run by the worker (in ``kaisen serve``)."""
    recipients = [r for r in to if r]
    if not recipients:
        return 0
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
