"""Demo data of the statements app: none is made (the Reports page starts empty, as for a new customer);
``demo --reset`` deletes the demo tenants' statements and their files."""

from __future__ import annotations

from typing import Any


def demo_statements_delete(*, tenants: Any) -> int:
    from kaisen.statements.models import Statement
    from kaisen.statements.services import statement_file_delete

    statements = Statement.objects.filter(tenant__in=tenants)
    for statement in statements.exclude(file_path=""):
        statement_file_delete(statement)
    deleted, _ = statements.delete()
    return deleted
