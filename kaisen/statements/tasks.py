"""Background task of the statements app (django-tasks)."""

from __future__ import annotations

from django_tasks import task


@task()
def statement_generate_task(statement_id: int) -> str:
    """Write a large statement (enqueued on commit by ``statement_request``). Safe to run twice: only one run
    claims the statement; a run lost with its worker is started again by ``statements_purge``."""
    from kaisen.statements.services import statement_generate

    return statement_generate(statement_id)
