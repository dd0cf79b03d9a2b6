"""``kaisen bench <name>``: the benchmarks of docs/benchmarks.md. Each runs against the database of this
environment (``DATABASE_URL`` or the embedded SQLite under ``KAISEN_DATA_DIR``): run them on a throwaway one.

The modules with the work are imported only when their benchmark runs (the foundation benchmark's module
needs Django loaded first); the others' command functions live beside their code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from kaisen.benchmarks.close import bench_close_command
from kaisen.benchmarks.events import bench_events_command
from kaisen.benchmarks.export import bench_export_command
from kaisen.benchmarks.orders import bench_orders_command
from kaisen.benchmarks.scale import bench_scale_command
from kaisen.benchmarks.usage import bench_usage_command
from kaisen.core.cli import django_setup, print_json

bench_app = typer.Typer(help="Benchmarks (docs/benchmarks.md); run them on a throwaway data directory or database.",
                        no_args_is_help=True)


@bench_app.command("foundation")
def foundation(
    lines: Annotated[int, typer.Option(help="Lines to generate for the benchmark.")] = 1_000_000,
    lookups: Annotated[int, typer.Option(help="API lookups by phone number to time.")] = 10_000,
    out: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file.")] = None,
) -> None:
    """Foundation benchmark: demo generation, API lookup by number (p50/p99), line list paging.

    Uses the database of this environment (DATABASE_URL or the embedded SQLite under KAISEN_DATA_DIR) and
    RESETS the demo tenants in it. Run it against a throwaway data directory or database.
    """
    django_setup()
    from kaisen.benchmarks.foundation import run_foundation_bench

    figures = run_foundation_bench(lines=lines, lookups=lookups)
    print_json(figures)
    if out:
        out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str))


bench_app.command("orders")(bench_orders_command)
bench_app.command("usage")(bench_usage_command)
bench_app.command("close")(bench_close_command)
bench_app.command("export")(bench_export_command)
bench_app.command("scale")(bench_scale_command)
bench_app.command("events")(bench_events_command)
