"""Database-level guards that make the audit table append-only (X-AUDIT: the application cannot edit or
delete entries). Installed by migration 0003; the SQL lives here so the test-suite can lift the guard
for its own table flush on SQLite (tests/conftest.py) — nothing in the application calls ``remove``.
"""

from __future__ import annotations

from typing import Any

TABLE = "audit_auditevent"
MESSAGE = "audit entries are append-only"

POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % on {TABLE} refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """,
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_update ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_delete ON {TABLE}",
    f"""CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only()""",
    f"""CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only()""",
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_update ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_delete ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_auditevent_append_only()",
]

SQLITE_INSTALL = [
    f"""CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE on {TABLE} refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE on {TABLE} refused'); END""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_delete",
]


def statements(vendor: str, *, install: bool) -> list[str]:
    if vendor == "postgresql":
        return POSTGRES_INSTALL if install else POSTGRES_REMOVE
    if vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_REMOVE
    return []


def install(connection: Any) -> None:
    with connection.cursor() as cur:
        for sql in statements(connection.vendor, install=True):
            cur.execute(sql)


def remove(connection: Any) -> None:
    with connection.cursor() as cur:
        for sql in statements(connection.vendor, install=False):
            cur.execute(sql)
