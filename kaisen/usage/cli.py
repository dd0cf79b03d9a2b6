"""``kaisen usage``: read usage through the API (client side, like ``kaisen lines``); ``kaisen admin usage``:
import carrier usage files and re-match kept-aside records (operator, server side: Django loaded in this
process, like ``kaisen demo``) — issue 4 §1, §8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api, django_setup, emit, print_json, print_pages

usage_app = typer.Typer(help="Usage: data usage per line and day, the month's summary, calls (calls the API).",
                        no_args_is_help=True)
usage_admin_app = typer.Typer(help="Import carrier usage files and re-match records of unknown numbers (server side).",
                              no_args_is_help=True)



@usage_admin_app.command("import")
def usage_import(
    files: Annotated[list[Path], typer.Argument(help="Usage files (CSV, optionally .gz), see docs/usage.md.",
                                                exists=True, dir_okay=False, readable=True)],
    kind: Annotated[str | None, typer.Option(help="calls | data (default: told by the header row).")] = None,
) -> None:
    """Import usage files into the database of this environment (operator; DATABASE_URL / KAISEN_DATA_DIR).

    Prints one JSON object per file: rows loaded, already present, rejected (see the error report in the
    back office, Usage imports) and kept aside for unknown lines. Re-importing a file changes nothing.
    Exits 1 if a file could not be read at all (nothing of that file is imported).
    """
    django_setup()
    from kaisen.core.errors import DomainError
    from kaisen.usage.ingest import usage_file_import_path

    if kind not in (None, "calls", "data"):
        typer.echo("--kind must be calls or data.", err=True)
        raise typer.Exit(2)
    failed = False
    for path in files:
        try:
            result = usage_file_import_path(path=path, kind=kind, imported_by="kaisen admin usage import")
        except DomainError as exc:
            typer.echo(f"{path}: {exc.code}: {exc.message}", err=True)
            failed = True
            continue
        out: dict[str, Any] = result.as_dict()
        if result.already_imported:
            out["message"] = "already imported (same SHA-256): nothing changed"
        print_json(out)
    if failed:
        raise typer.Exit(1)


@usage_admin_app.command("rematch")
def usage_rematch_command() -> None:
    """Match records kept aside for unknown numbers against the lines again (after lines were registered)."""
    django_setup()
    from kaisen.usage.ingest import usage_rematch

    print_json(usage_rematch().as_dict())


@usage_admin_app.command("archive")
def usage_archive_command(
    month: Annotated[str, typer.Option(
        help="One month YYYY-MM (default: every month past the retention period).")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the months that would be archived.")] = False,
) -> None:
    """Archive usage past the retention period: each month's call records, daily data usage, records for
    unknown numbers and import error reports are written to compressed CSV files with their SHA-256, then
    removed from the database (audited).

    Prints the files written. Exits 1 if a month is still inside the retention period.
    """
    django_setup()
    import datetime as dt

    from kaisen.core.errors import DomainError
    from kaisen.usage.retention import oldest_kept_month, usage_archive_due_months, usage_archive_month

    if month:
        try:
            months = [dt.date.fromisoformat(f"{month}-01")]
        except ValueError:
            typer.echo("--month must be YYYY-MM.", err=True)
            raise typer.Exit(2) from None
    else:
        months = usage_archive_due_months()
    if dry_run:
        print_json({"oldest_kept_month": f"{oldest_kept_month():%Y-%m}", "months": [f"{m:%Y-%m}" for m in months]})
        return
    out = []
    for m in months:
        try:
            tables = usage_archive_month(month=m, actor="kaisen admin usage archive")
        except DomainError as exc:
            typer.echo(f"{m:%Y-%m}: {exc.code}: {exc.message}", err=True)
            raise typer.Exit(1) from None
        out.append({"month": f"{m:%Y-%m}", "tables": [t.as_dict() for t in tables]})
    print_json(out)


def _line_id(ref: str, url: str | None) -> int:
    """A line ID as is; a phone number or ICCID through the lines API."""
    if ref.isdigit() and len(ref) < 10:
        return int(ref)
    digits = "".join(ch for ch in ref if ch.isdigit())
    path = f"/lines/by-iccid/{digits}" if digits.startswith("89") and len(digits) >= 19 else f"/lines/by-msisdn/{ref}"
    return int(api("GET", path, url=url)["id"])


@usage_app.command("line")
def usage_line(
    ref: Annotated[str, typer.Argument(help="Line ID, phone number or SIM serial (ICCID).")],
    end: Annotated[str | None, typer.Option(help="Last day of the window, YYYY-MM-DD (default: today − 2).")] = None,
    days: Annotated[int, typer.Option(help="Days in the window (1-92).")] = 7,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """A line's data usage per day (by default the 7 days up to 2 days ago) and last month's total."""
    params: dict[str, Any] = {"days": days}
    if end:
        params["end"] = end
    emit(api("GET", f"/lines/{_line_id(ref, url)}/usage", url=url, params=params))


@usage_app.command("summary")
def usage_summary(
    month: Annotated[str, typer.Option(help="YYYY-MM (default: this month).")] = "",
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """The tenant's usage of a month, day by day (data bytes, calls, call minutes, SMS)."""
    emit(api("GET", "/usage/summary", url=url, params={"month": month}))


@usage_app.command("calls")
def usage_calls(
    ref: Annotated[str, typer.Argument(help="Line ID, phone number or SIM serial (ICCID).")],
    month: Annotated[str, typer.Option(help="Billing month YYYY-MM (default: this month).")] = "",
    limit: Annotated[int, typer.Option(help="Calls per page (1-500).")] = 10,
    cursor: Annotated[str | None, typer.Option(help="Cursor from a previous page's next_cursor.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every call.")] = False,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """A line's calls billed in a month, one page, or with --all every call."""
    print_pages(f"/lines/{_line_id(ref, url)}/calls", params={"month": month, "limit": limit}, cursor=cursor,
                all_pages=all_pages, url=url)
