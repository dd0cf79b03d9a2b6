"""Issue 10 benchmarks (``kaisen bench scale``): each figure two paths run back to back on the same data in
one run, repeated; min and median of the ratios are reported.

Parts (``--parts``, default all):

* ``rate`` — rating + close of one month of M lines / N calls (``close_month``, which rates the month once —
  ``rate_month`` from the per line × day × call type rollups — and closes it; before each repeat the month's
  invoice is deleted, not timed)
  against one ``SELECT line, SUM(charge) … GROUP BY line`` over the same raw calls rated on the fly (each
  call joined to its line's plan and the call rate in force on the month's first day). Ratio = raw / ours
  (1.0: as fast as the bare query). The calls are rated and their rollups built once after loading, with
  the pipeline's code (``rating.rerate_calls``, not timed in the ratio; ``store_rated_s`` gives its time):
  the state the importer leaves, which rates each call in the statement that stores it (issue 10 §4).
* ``months`` — the same rating + close of the same month with only that month stored (the ``rate`` part's
  repeats) and then with ``--months`` months stored (the other months loaded with as many calls, not timed).
  Ratio = time with all months / time with one month (target ≤ 1.2).
* ``ingest`` — ``usage_file_import`` of a generated file of ``--ingest-calls`` records against the database's
  bulk path of the same file into a bare table of the file's 11 columns with no index and no constraint
  (PostgreSQL ``COPY … FROM STDIN (FORMAT csv)``; SQLite ``executemany`` in one transaction, with the import's
  page cache). The import rates each call and adds it to its rollups in the statement that stores it, so
  rating at ingest is inside the ingest time. Ratio = raw / ingest. The imported records and their rollups
  are deleted after each repeat (not timed).
* ``pages`` — the provisional charges page (``/billing/current/``) and ``GET /api/v1/bills/current`` for
  the benchmark tenant with ``--calls`` calls in the current month (stored rated, then ``rate_month`` as the
  hourly job does), through
  Django's test client in this process: p50 / p99 of ``--requests`` requests each (no ratio: the target
  is a latency).

The call records of ``rate`` / ``months`` / ``pages`` are generated inside the database on PostgreSQL
(``INSERT … SELECT … FROM generate_series``, no Python per row) and by ``executemany`` on SQLite. It uses
the close benchmark's tenant ``OP9000000002`` and removes everything of it at the end (``--keep`` leaves it);
run it on a throwaway database.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

PARTS = ("rate", "months", "ingest", "pages")
RAW = "bench_scale_raw"


def _progress(fig: dict[str, Any], part: str) -> None:
    """Each part's figures on stderr as soon as it is done (a long run interrupted keeps what it measured)."""
    typer.echo(json.dumps({part: fig.get(part)}, default=str), err=True)


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3)}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load_calls_fast(tenant: Any, n: int, month: dt.date, *, seed: int = 11) -> float:
    """N call records of ``month`` spread evenly over the tenant's numbered lines, with the close
    benchmark's call mix. PostgreSQL: one ``INSERT … SELECT`` over ``generate_series``; SQLite: the close
    benchmark's ``executemany`` loader. Returns seconds."""
    from django.db import connection, transaction

    from kaisen.benchmarks.close import MIX, load_calls
    from kaisen.lines.models import Line
    from kaisen.usage.models import CallRecord, UsageFile
    from kaisen.usage.partitions import usage_partitions_ensure

    usage_partitions_ensure([month])
    if connection.vendor != "postgresql":
        numbered = list(Line.objects.filter(tenant=tenant, msisdn__isnull=False).order_by("id")
                        .values_list("id", "msisdn"))
        return load_calls(tenant, [(pk, m or "") for pk, m in numbered], n, month, seed=seed)
    f = UsageFile.objects.create(kind="calls", name=f"bench-close-{month:%Y%m}",
                                 sha256=f"bench-close-{tenant.pk}-{month:%Y%m}".ljust(64, "0")[:64])
    types = [t for t, weight, _low, _high in MIX for _ in range(weight)]  # 100 entries, by weight
    spans = {t: (low, high) for t, _w, low, high in MIX}
    exempt = "('international', 'roaming_out', 'roaming_in', 'sms_international')"
    arr = "ARRAY[" + ", ".join(f"'{t}'" for t in types) + "]"
    low = "CASE t.ct " + " ".join(f"WHEN '{t}' THEN {lo}" for t, (lo, _hi) in spans.items()) + " END"
    high = "CASE t.ct " + " ".join(f"WHEN '{t}' THEN {hi}" for t, (_lo, hi) in spans.items()) + " END"
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC) - dt.timedelta(hours=9)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT setseed(%s)", [seed / 100])
        cur.execute(
            f"INSERT INTO {CallRecord._meta.db_table} (tenant_id, line_id, msisdn, started_at, duration_ds, "  # noqa: S608
            "units, billing_month, destination_number, destination_area, call_type, is_internal, tax_exempt, "
            "record_id, source_file_id) "
            f"SELECT %(tenant)s, l.id, l.msisdn, %(start)s + (floor(random() * 27 * 86400) * interval '1 second'), "
            f"CASE WHEN {high} = 0 THEN 0 ELSE ({low} * 10 + floor(random() * ({high} - {low}) * 10))::int END, "
            f"1, %(month)s, '0' || (100000000 + floor(random() * 8999999999))::bigint::text, '', t.ct, FALSE, "
            f"t.ct IN {exempt}, 'BC' || %(tag)s || lpad(g::text, 10, '0'), %(file)s "
            "FROM generate_series(0, %(n)s - 1) g "
            "JOIN (SELECT id, msisdn, (ROW_NUMBER() OVER (ORDER BY id) - 1) AS k FROM lines_line "
            "WHERE tenant_id = %(tenant)s AND msisdn IS NOT NULL) l "
            "ON l.k = g %% (SELECT COUNT(*) FROM lines_line WHERE tenant_id = %(tenant)s AND msisdn IS NOT NULL) "
            f"CROSS JOIN LATERAL (SELECT ({arr})[1 + (g * 37 + g / 100) %% 100] AS ct) t",
            {"tenant": tenant.pk, "start": start, "month": month, "tag": f"{month:%Y%m}", "n": n, "file": f.pk})
    return time.perf_counter() - started


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def _reset_month(tenant: Any, month: dt.date) -> None:
    """Back to a month not yet billed: its invoice and items deleted (not timed). The calls stay rated and
    their rollups stay, as the importer left them."""
    from kaisen.billing.models import Invoice, InvoiceItem

    invoices = Invoice.objects.filter(tenant=tenant, month=month)
    InvoiceItem.objects.filter(invoice__in=invoices).delete()
    invoices.delete()


def _ours(tenant: Any, month: dt.date, today: dt.date) -> tuple[float, Any]:
    """``close_month`` of the month: its first step is the month's final rating (``rate_month``: the items from
    the rollups, the extra fees, the tax), then the close itself. The month is rated once, as a close does;
    an earlier ``rate_month`` call of its own (the hourly provisional rating) would write the same items a
    second time and count them twice."""
    from kaisen.billing.close import close_month

    started = time.perf_counter()
    invoice = close_month(tenant=tenant, coverage="japan", month=month, today=today, actor="kaisen bench scale")
    return time.perf_counter() - started, invoice


def _raw_group_by(tenant: Any, month: dt.date) -> tuple[float, int]:
    """One ``SELECT … GROUP BY line`` of the month's calls, each rated on the fly with the call rate in force
    on the month's first day for its line's plan's coverage. Returns (seconds, lines)."""
    from django.db import connection

    sql = (
        "SELECT c.line_id, SUM(CASE WHEN r.unit_seconds > 0 "
        "THEN ((c.duration_ds + r.unit_seconds * 10 - 1) / (r.unit_seconds * 10)) * r.rate "
        "ELSE c.units * r.rate END) "
        "FROM usage_callrecord c JOIN lines_line l ON l.id = c.line_id JOIN lines_plan p ON p.id = l.plan_id "
        "JOIN (SELECT x.coverage, x.call_type, x.unit_seconds, x.rate FROM billing_callrate x "
        "WHERE x.valid_from = (SELECT MAX(y.valid_from) FROM billing_callrate y WHERE y.coverage = x.coverage "
        "AND y.call_type = x.call_type AND y.valid_from <= %s)) r "
        "ON r.coverage = p.coverage AND r.call_type = c.call_type "
        "WHERE c.tenant_id = %s AND c.billing_month = %s GROUP BY c.line_id")
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(sql, [month, tenant.pk, month])
        rows = cur.fetchall()
    return time.perf_counter() - started, len(rows)


def _part_rate(tenant: Any, month: dt.date, today: dt.date, repeats: int, fig: dict[str, Any]) -> list[float]:
    ours: list[float] = []
    raw: list[float] = []
    ratios: list[float] = []
    from kaisen.benchmarks.close import call_items

    _reset_month(tenant, month)
    _ours(tenant, month, today)  # warm-up, not counted (caches, plans)
    for _ in range(repeats):
        _reset_month(tenant, month)
        a, invoice = _ours(tenant, month, today)
        b, lines = _raw_group_by(tenant, month)
        ours.append(a)
        raw.append(b)
        ratios.append(b / a)
    fig["rate"] = {"rate_plus_close_s": _stats(ours), "raw_group_by_s": _stats(raw), "raw_lines": lines,
                   "ratio_raw_to_ours": _stats(ratios), "invoice_call_items": call_items(invoice),
                   "invoice_total": str(invoice.total)}
    return ours


def _part_months(tenant: Any, month: dt.date, today: dt.date, months: int, calls: int, repeats: int,
                 one_month: list[float], fig: dict[str, Any]) -> None:
    from kaisen.benchmarks.close import store_rated
    from kaisen.core.calendar import add_months

    t = time.perf_counter()
    others = [add_months(month, -i) for i in range(1, months)]
    for i, other in enumerate(others, start=1):
        load_calls_fast(tenant, calls, other, seed=11 + i)
    _analyze()
    if others:
        store_rated(tenant, others)
        _analyze()
    load = time.perf_counter() - t
    many = []
    for _ in range(repeats):
        _reset_month(tenant, month)
        many.append(_ours(tenant, month, today)[0])
    ratios = [m / o for m, o in zip(many, one_month, strict=False)]
    fig["months"] = {"months_stored": months, "load_other_months_s": round(load, 1),
                     "one_month_stored_s": _stats(one_month), "all_months_stored_s": _stats(many),
                     "ratio_all_to_one": {"of_min": round(min(many) / min(one_month), 3),
                                          "of_median": round(statistics.median(many) /
                                                             statistics.median(one_month), 3),
                                          "pairwise": _stats(ratios)}}


def _raw_file_columns(path: Path) -> float:
    """The file into a bare table of its 11 columns, no index, no constraint: the database's bulk path."""
    from django.db import connection, transaction

    from kaisen.benchmarks.usage import _copy_file, _insert_batches
    from kaisen.usage.ingest import sqlite_bulk_cache

    pg = connection.vendor == "postgresql"
    ts = "timestamp with time zone" if pg else "datetime"
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {RAW}")
        cur.execute(f"CREATE TABLE {RAW} (record_id varchar(40), msisdn varchar(11), started_at {ts}, "
                    "duration_ds integer, destination varchar(32), area varchar(64), network varchar(16), "
                    "internal integer, count integer, roaming varchar(4), service varchar(8))")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        if pg:
            _copy_file(cur, f"COPY {RAW} FROM STDIN WITH (FORMAT csv, HEADER true)", path)
        else:
            with sqlite_bulk_cache(cur), path.open(encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                next(reader)
                _insert_batches(cur.cursor, f"INSERT INTO {RAW} VALUES ({', '.join('?' * 11)})", reader)  # noqa: S608
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE {RAW}")
    return seconds


def _part_ingest(n: int, lines: int, repeats: int, fig: dict[str, Any]) -> None:
    from kaisen.benchmarks.usage import _bench_lines, _cleanup, write_call_file
    from kaisen.usage.ingest import usage_file_import_path
    from kaisen.usage.models import CallRecord, UnmatchedCall, UsageDayTotal, UsageFile, UsageRollup, UsageRowError

    tenant, numbers = _bench_lines(lines)
    ingest: list[float] = []
    raw: list[float] = []
    ratios: list[float] = []
    loaded = 0
    try:
        with tempfile.TemporaryDirectory(prefix="kaisen-bench-scale-") as tmp:
            path = Path(tmp) / "calls.csv"
            t = time.perf_counter()
            write_call_file(path, numbers, n)
            generate = time.perf_counter() - t
            for _ in range(repeats):
                b = _raw_file_columns(path)
                t = time.perf_counter()
                result = usage_file_import_path(path=path, kind="calls", imported_by="kaisen bench scale")
                a = time.perf_counter() - t
                loaded = result.file.rows_loaded
                ingest.append(a)
                raw.append(b)
                ratios.append(b / a)
                f = result.file
                UnmatchedCall.objects.filter(source_file=f).delete()
                UsageRowError.objects.filter(source_file=f).delete()
                CallRecord.objects.filter(source_file=f).delete()
                UsageRollup.objects.filter(tenant=tenant).delete()
                UsageDayTotal.objects.filter(tenant=tenant).delete()
                UsageFile.objects.filter(pk=f.pk).delete()
                _analyze()
    finally:
        _cleanup(tenant)
    fig["ingest"] = {"calls": n, "lines": lines, "rows_loaded": loaded, "generate_file_s": round(generate, 1),
                     "ingest_s": _stats(ingest), "raw_file_columns_s": _stats(raw),
                     "ratio_raw_to_ingest": _stats(ratios)}


def _part_pages(tenant: Any, calls: int, requests: int, today: dt.date, fig: dict[str, Any]) -> None:
    from django.conf import settings
    from django.test import Client

    from kaisen.accounts.models import User
    from kaisen.accounts.services import user_create
    from kaisen.benchmarks.close import store_rated
    from kaisen.billing.rating import rate_month
    from kaisen.core.calendar import month_start

    month = month_start(today)
    t = time.perf_counter()
    load_calls_fast(tenant, calls, month, seed=99)
    _analyze()
    store_rated(tenant, [month])
    _analyze()
    rate_month(tenant=tenant, coverage="japan", month=month)  # the hourly provisional rating
    prepare = time.perf_counter() - t
    password = "bench-Scale-2026-pages!"  # noqa: S105 - a throwaway user of the benchmark tenant
    user = User.objects.filter(tenant=tenant, username="bench_scale").first() or user_create(
        tenant=tenant, username="bench_scale", password=password, is_root=True)
    user.is_active = True
    user.set_password(password)
    user.save()
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    web = Client()
    web.force_login(user)
    api = Client()
    token = api.post("/api/v1/auth", {"operator_id": tenant.public_id, "username": "bench_scale",
                                      "password": password}, content_type="application/json").json()["token"]
    out: dict[str, Any] = {"calls_in_month": calls, "prepare_s": round(prepare, 1), "requests": requests}
    paths: tuple[tuple[str, Client, str, dict[str, str]], ...] = (
        ("charges_page", web, "/billing/current/", {}),
        ("api_bills_current", api, "/api/v1/bills/current", {"Authorization": f"Bearer {token}"}))
    for name, client, url, headers in paths:
        times = []
        for i in range(requests + 3):
            started = time.perf_counter()
            resp = client.get(url, headers=headers)
            if i >= 3:  # the first three warm up
                times.append(time.perf_counter() - started)
            if resp.status_code != 200:
                raise RuntimeError(f"{url} answered {resp.status_code}")
        out[name] = {"p50_ms": round(_pct(times, 50) * 1000, 1), "p99_ms": round(_pct(times, 99) * 1000, 1)}
    fig["pages"] = out


def run_scale_bench(*, lines: int, calls: int, months: int, ingest_calls: int, ingest_lines: int, repeats: int,
                    requests: int, parts: tuple[str, ...], keep: bool = False) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from kaisen.benchmarks.close import _lines, cleanup, store_rated
    from kaisen.core import clock
    from kaisen.core.calendar import previous_month

    call_command("migrate", interactive=False, verbosity=0)
    today = clock.today_jst()
    month = previous_month(today)
    fig: dict[str, Any] = {"database": connection.vendor, "lines": lines, "calls_per_month": calls,
                           "repeats": repeats, "parts": list(parts),
                           "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                      f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"}
    if "ingest" in parts:
        _part_ingest(ingest_calls, ingest_lines, repeats, fig)
        _progress(fig, "ingest")
    if not {"rate", "months", "pages"} & set(parts):
        return fig
    t = time.perf_counter()
    tenant, numbered = _lines(lines, today)
    fig["numbered_lines"] = len(numbered)
    try:
        fig["load_month_s"] = round(load_calls_fast(tenant, calls, month), 1)
        _analyze()
        fig["store_rated_s"] = round(store_rated(tenant, [month]), 1)
        _analyze()
        fig["setup_s"] = round(time.perf_counter() - t, 1)
        one = _part_rate(tenant, month, today, repeats, fig) if {"rate", "months"} & set(parts) else []
        _progress(fig, "rate")
        if "pages" in parts:
            _part_pages(tenant, calls, requests, today, fig)
            _progress(fig, "pages")
        if "months" in parts:
            _part_months(tenant, month, today, months, calls, repeats, one, fig)
            _progress(fig, "months")
    finally:
        if not keep:
            from kaisen.accounts.models import User

            # Audit entries keep the user (PROTECT): it stays, unable to sign in.
            User.objects.filter(tenant=tenant, username="bench_scale").update(is_active=False)
            cleanup(tenant)
    fig["load_after"] = round(os.getloadavg()[0], 1)
    return fig


def bench_scale_command(
    lines: Annotated[int, typer.Option(help="Lines of the benchmark tenant.")] = 1_000,
    calls: Annotated[int, typer.Option(help="Call records per month.")] = 100_000,
    months: Annotated[int, typer.Option(help="Months stored in the 'months' part.")] = 12,
    ingest_calls: Annotated[int, typer.Option(help="Call records of the ingest part's file.")] = 100_000,
    ingest_lines: Annotated[int, typer.Option(help="Lines of the ingest part.")] = 1_000,
    repeats: Annotated[int, typer.Option(help="Repeats of each pair of paths.")] = 3,
    requests: Annotated[int, typer.Option(help="Requests per page in the 'pages' part.")] = 100,
    parts: Annotated[str, typer.Option(help="Comma-separated: rate, months, ingest, pages.")] = ",".join(PARTS),
    out: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file.")] = None,
    keep: Annotated[bool, typer.Option(help="Keep the benchmark tenant and its data.")] = False,
) -> None:
    """Scale figures: rating + close vs a bare GROUP BY, close with 12 months stored vs 1, ingest vs a bare
    bulk load, charges page and bills API latency. Ratios of two paths on the same data, min and median.

    Uses the database of this environment (DATABASE_URL or the embedded SQLite under KAISEN_DATA_DIR);
    creates and removes its own tenants. Run it on a throwaway database.
    """
    from kaisen.core.cli import django_setup, print_json

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    if not chosen or set(chosen) - set(PARTS) or repeats < 1:
        typer.echo(f"--parts takes {', '.join(PARTS)}; --repeats at least 1.", err=True)
        raise typer.Exit(2)
    django_setup()
    figures = run_scale_bench(lines=lines, calls=calls, months=months, ingest_calls=ingest_calls,
                              ingest_lines=ingest_lines, repeats=repeats, requests=requests, parts=chosen, keep=keep)
    print_json(figures)
    if out:
        out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str))
