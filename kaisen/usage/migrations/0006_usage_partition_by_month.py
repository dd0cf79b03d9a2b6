"""Issue 10 §5: on PostgreSQL, call records and daily data usage partitioned by month.

``usage_callrecord`` becomes ``PARTITION BY RANGE (billing_month)`` and ``usage_datausagedaily``
``PARTITION BY RANGE (day)``, one partition per month plus a DEFAULT one (``kaisen.usage.partitions``).
The table is rebuilt: the old one is renamed, its indexes and constraints dropped, a partitioned table
``LIKE`` it (defaults, identity) created with partitions for every stored month and the months around
today, the rows copied, the identity moved past the highest ID, and the primary key, unique constraints,
foreign key to the line and indexes created again under Django's names. A partitioned table's primary key
and unique constraints must contain the partition key: the primary key is (id, month column) in the
database (``id`` stays unique: it comes from one identity sequence), ``record_id`` is unique per billing
month (0005). SQLite keeps one table: nothing happens there.

Reverse (``unpartition``): each table becomes one plain table again — the partitioned table is renamed, a
plain table ``LIKE`` it created, the rows of every partition copied once, the identity moved past the highest
ID, the partitioned table and its partitions dropped, and the primary key (``id``), unique constraints,
foreign keys and indexes of the model as it was after 0005 created again. Like the forward step it copies
every row once in the migration's transaction: on a large database, run it in a maintenance window.
"""

import datetime as dt

from django.db import migrations

SPECS = (("callrecord", "billing_month"), ("datausagedaily", "day"))


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, n: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


def _constraints(cur, table: str) -> list[str]:
    cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass ORDER BY contype = 'p'", [table])
    return [r[0] for r in cur.fetchall()]


def _indexes(cur, table: str) -> list[str]:
    cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
    return [r[0] for r in cur.fetchall()]


def _constraints_and_indexes(schema_editor, model, table):  # type: ignore[no-untyped-def]
    """The model's constraints, field indexes, foreign keys and indexes on the new ``table``, then its statistics."""
    for constraint in model._meta.constraints:
        schema_editor.add_constraint(model, constraint)
    for field in model._meta.local_fields:
        for statement in schema_editor._field_indexes_sql(model, field):
            schema_editor.execute(statement)
        if field.remote_field and field.db_constraint:
            schema_editor.execute(schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))
    for index in model._meta.indexes:
        schema_editor.add_index(model, index)
    schema_editor.execute(f"ANALYZE {table}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from kaisen.core import clock

    today = clock.today_jst()
    for model_name, column in SPECS:
        model = apps.get_model("usage", model_name)
        table = model._meta.db_table
        old = f"{table}_unpartitioned"
        with schema_editor.connection.cursor() as cur:
            cur.execute("SELECT relkind FROM pg_class WHERE relname = %s", [table])
            if cur.fetchone()[0] == "p":
                continue
            cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
            for name in _constraints(cur, old):
                cur.execute(f'ALTER TABLE {old} DROP CONSTRAINT "{name}"')
            for name in _indexes(cur, old):
                cur.execute(f'DROP INDEX "{name}"')
            cur.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY) "
                        f"PARTITION BY RANGE ({column})")
            cur.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
            cur.execute(f"SELECT DISTINCT CAST(date_trunc('month', {column}) AS date) FROM {old}")
            months = {r[0] for r in cur.fetchall()}
            current = _month(today)
            months |= {_add_months(current, i) for i in range(-2, 4)}
            for month in sorted(months):
                cur.execute(f"CREATE TABLE {table}_p{month:%Y%m} PARTITION OF {table} FOR VALUES "
                            f"FROM ('{month.isoformat()}') TO ('{_add_months(month, 1).isoformat()}')")
            cur.execute(f"INSERT INTO {table} SELECT * FROM {old}")
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST((SELECT MAX(id) FROM {old}), 1), (SELECT MAX(id) FROM {old}) IS NOT NULL)")
            cur.execute(f"DROP TABLE {old}")
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id, {column})')
        _constraints_and_indexes(schema_editor, model, table)


def unpartition(apps, schema_editor):
    """The reverse of ``partition``: one plain table per model again (see the module docstring)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, _column in SPECS:
        model = apps.get_model("usage", model_name)
        table = model._meta.db_table
        old = f"{table}_partitioned"
        with schema_editor.connection.cursor() as cur:
            cur.execute("SELECT relkind FROM pg_class WHERE relname = %s", [table])
            if cur.fetchone()[0] != "p":
                continue
            cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
            cur.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY)")
            cur.execute(f"INSERT INTO {table} SELECT * FROM {old}")
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST((SELECT MAX(id) FROM {old}), 1), (SELECT MAX(id) FROM {old}) IS NOT NULL)")
            cur.execute(f"DROP TABLE {old} CASCADE")  # its partitions, indexes and constraints with it
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id)')
        _constraints_and_indexes(schema_editor, model, table)


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0005_callrecord_unique_per_month_usagearchive"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
