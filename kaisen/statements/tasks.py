"""Background task of the statements app (django-tasks)."""

from __future__ import annotations

from django_tasks import task

from kaisen.statements.generate import statement_generate


@task()
def statement_generate_task(statement_id: int) -> str:
    """Write a large statement (enqueued on commit by ``statement_request``; the work is
    ``kaisen.statements.generate``). Safe to run twice: only one run claims the statement; a run lost with
    its worker is started again by ``statements_purge``."""
    return statement_generate(statement_id)
