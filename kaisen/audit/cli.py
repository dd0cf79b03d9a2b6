"""``kaisen audit``: the tenant's audit log through the API, for its root user (X-AUDIT).

Client commands like ``kaisen lines``: they call a running portal over HTTP with the token of
``kaisen login`` (or ``KAISEN_TOKEN`` / an API key from the environment). Django is not loaded here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api, api_stream, emit

audit_app = typer.Typer(help="Read and export the audit log (root user; calls the API).", no_args_is_help=True)

FamilyOpt = Annotated[str, typer.Option("--family", help="Action family: auth, apikey, user, line, order, ...")]
FromOpt = Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, Japan time).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD, Japan time), inclusive.")]
UserOpt = Annotated[int | None, typer.Option("--user-id", help="Only this user's entries.")]
SuccessOpt = Annotated[bool | None, typer.Option("--success/--failure", help="Only successful / failed entries.")]


def _filters(family: str, date_from: str | None, date_to: str | None, user_id: int | None,
             success: bool | None) -> dict[str, Any]:
    params: dict[str, Any] = {"family": family, "date_from": date_from, "date_to": date_to, "user_id": user_id,
                              "success": None if success is None else str(success).lower()}
    return {k: v for k, v in params.items() if v not in (None, "")}


@audit_app.command("list")
def audit_list(
    family: FamilyOpt = "", date_from: FromOpt = None, date_to: ToOpt = None, user_id: UserOpt = None,
    success: SuccessOpt = None,
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Entries per page.")] = 50,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """One page of the audit log, newest first."""
    params = {**_filters(family, date_from, date_to, user_id, success), "page": page, "limit": limit}
    emit(api("GET", "/audit", url=url, params=params))


@audit_app.command("export")
def audit_export(
    family: FamilyOpt = "", date_from: FromOpt = None, date_to: ToOpt = None, user_id: UserOpt = None,
    success: SuccessOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")] = None,
    url: UrlOpt = None,
) -> None:
    """The filtered audit log as CSV (UTF-8 with BOM, CRLF), streamed from the portal."""
    params = _filters(family, date_from, date_to, user_id, success)
    with api_stream("/audit/export", url=url, params=params) as resp:
        out = output.open("wb") if output else sys.stdout.buffer
        try:
            for chunk in resp.iter_bytes():
                out.write(chunk)
        finally:
            if output:
                out.close()
            else:
                out.flush()
