"""``kaisen statements``: CSV statements: request, list, status, download (issue 4 §6, §8; K-5).

Client commands: they call a running portal's API with the token of ``kaisen login`` (or ``KAISEN_TOKEN`` /
an API key from the environment) and print JSON; ``download`` writes the file's bytes unchanged (UTF-8 or
Shift-JIS, CRLF). Django is not loaded here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api_stream, emit, print_json
from kaisen.core.cli import api as core_api

statements_app = typer.Typer(help="CSV statements: request, list, status, download (calls the API).",
                             no_args_is_help=True)

KINDS = ("invoice", "invoice_voice", "cdr", "line_daily", "line_monthly", "datausage", "number_charges",
         "call_detail", "billing_detail")


def _print(data: Any) -> None:
    print_json(data)


def _api(method: str, path: str, *, url: str | None, body: dict[str, Any] | None = None,
         params: dict[str, Any] | None = None) -> Any:
    return core_api(method, path, url=url, body=body, params=params, timeout=120)


def _wait(statement_id: int, url: str | None, timeout: float, interval: float = 1.0) -> dict[str, Any]:
    """Poll until the statement is no longer queued or running; progress goes to stderr."""
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = _api("GET", f"/statements/{statement_id}", url=url)
        if data["status"] not in ("queued", "running"):
            return data
        typer.echo(f"{data['status']}: {data['rows_done']:,} / {data['rows_total']:,} rows "
                   f"({data['progress_percent']}%)", err=True)
        if time.monotonic() > deadline:
            typer.echo(f"Still {data['status']} after {timeout:.0f} s; check later with "
                       f"`kaisen statements status {statement_id}`.", err=True)
            raise typer.Exit(2)
        time.sleep(interval)


@statements_app.command("kinds")
def statements_kinds(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The statements that can be requested today, with their encodings and the months open now."""
    emit(_api("GET", "/statements/kinds", url=url))


@statements_app.command("request")
def statements_request(
    kind: Annotated[str, typer.Argument(help="One of: " + ", ".join(KINDS) + ".")],
    month: Annotated[str | None, typer.Option(help="YYYY-MM (monthly statements).")] = None,
    encoding: Annotated[str, typer.Option(
        help="utf-8, utf-8-sig (UTF-8 with BOM, for Excel) or cp932 (Shift-JIS), where the file allows it.")] = "utf-8",
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the statement is ready.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most with --wait.")] = 1800,
    url: UrlOpt = None,
) -> None:
    """Request a statement; prints it (its id, status, progress). Refused, with the error code, on the first
    and the last day of a month (for some kinds), outside the window or before publication."""
    body: dict[str, Any] = {"kind": kind, "encoding": encoding}
    if month:
        body["month"] = month
    data = _api("POST", "/statements", url=url, body=body)
    if wait and data["status"] in ("queued", "running"):
        data = _wait(int(data["id"]), url, timeout)
    _print(data)


@statements_app.command("list")
def statements_list(limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 50,
                    fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The statements requested recently, with status and expiry."""
    emit(_api("GET", "/statements", url=url, params={"limit": limit}))


@statements_app.command("status")
def statements_status(statement_id: Annotated[int, typer.Argument(help="The statement's id.")],
                      wait: Annotated[bool, typer.Option("--wait", help="Wait until it is ready.")] = False,
                      timeout: Annotated[float, typer.Option(help="Seconds to wait at most.")] = 1800,
                      url: UrlOpt = None) -> None:
    """One statement: status, rows done / total, expiry."""
    data = _wait(statement_id, url, timeout) if wait else _api("GET", f"/statements/{statement_id}", url=url)
    _print(data)


@statements_app.command("download")
def statements_download(
    statement_id: Annotated[int, typer.Argument(help="The statement's id.")],
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: the statement's file name).")]
    = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it is ready first.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most with --wait.")] = 1800,
    url: UrlOpt = None,
) -> None:
    """Write the statement's file (streamed, bytes unchanged). 410 STATEMENT_EXPIRED after 48 hours."""
    info = _wait(statement_id, url, timeout) if wait else _api("GET", f"/statements/{statement_id}", url=url)
    target = out or Path(info["file_name"])
    with api_stream(f"/statements/{statement_id}/download", url=url) as resp:
        size = 0
        partial = target.with_name(target.name + ".part")
        with open(partial, "wb") as fh:
            for chunk in resp.iter_bytes(1 << 16):
                fh.write(chunk)
                size += len(chunk)
        partial.replace(target)
    typer.echo(json.dumps({"id": statement_id, "file": str(target), "bytes": size}, ensure_ascii=False))
