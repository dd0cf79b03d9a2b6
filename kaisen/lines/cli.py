"""``kaisen lines``: look up the tenant's lines through the API (client commands, see ``kaisen.core.cli``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api, emit, print_all_pages, print_json

lines_app = typer.Typer(help="Look up lines (calls the API; log in first with `kaisen login`).", no_args_is_help=True)


@lines_app.command("list")
def lines_list(
    status: Annotated[str, typer.Option(help="not_activated | active | suspended | cancelled")] = "",
    carrier: Annotated[str, typer.Option(help="docomo | softbank | au")] = "",
    sim_type: Annotated[str, typer.Option(help="data | sms | voice")] = "",
    plan: Annotated[str, typer.Option(help="Plan code.")] = "",
    q: Annotated[str, typer.Option(help="Phone number or SIM serial (prefix).")] = "",
    sort: Annotated[str, typer.Option(help="msisdn, iccid, started_on; prefix - for descending.")] = "msisdn",
    limit: Annotated[int, typer.Option(help="Lines per page (1-500).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Cursor from a previous page's next_cursor.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every line.")] = False,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """List lines: one page ({items, next_cursor, prev_cursor}), or with --all every line."""
    params: dict[str, Any] = {"status": status, "carrier": carrier, "sim_type": sim_type, "plan": plan, "q": q,
                              "sort": sort, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    if not all_pages:
        emit(api("GET", "/lines", url=url, params=params))
        return
    print_all_pages("/lines", params=params, url=url)


def _line_path(ref: str, by_id: bool) -> str:
    digits = "".join(ch for ch in ref if ch.isdigit())
    if by_id:
        if not ref.isdigit():
            typer.echo("With --id, REF must be a number.", err=True)
            raise typer.Exit(2)
        return f"/lines/{ref}"
    if digits.startswith("89") and len(digits) >= 19:
        return f"/lines/by-iccid/{ref}"
    return f"/lines/by-msisdn/{ref}"


@lines_app.command("get")
def lines_get(
    ref: Annotated[str, typer.Argument(help="Phone number, SIM serial (ICCID), or line ID with --id.")],
    by_id: Annotated[bool, typer.Option("--id", help="REF is the line's numeric ID.")] = False,
    url: UrlOpt = None,
) -> None:
    """Show one line by phone number, SIM serial or ID."""
    print_json(api("GET", _line_path(ref, by_id), url=url))


@lines_app.command("history")
def lines_history(
    ref: Annotated[str, typer.Argument(help="Phone number, SIM serial (ICCID), or line ID with --id.")],
    by_id: Annotated[bool, typer.Option("--id", help="REF is the line's numeric ID.")] = False,
    at: Annotated[str | None, typer.Option(help="Only the line as of this moment: YYYY-MM-DD (00:00 Japan time) "
                                                "or YYYY-MM-DDTHH:MM (Japan time unless an offset is given).")] = None,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """Show a line's history: its plan, status, options and SIM from one change to the next."""
    line_id = ref if by_id and ref.isdigit() else api("GET", _line_path(ref, by_id), url=url)["id"]
    emit(api("GET", f"/lines/{line_id}/history", url=url, params={"at": at} if at else None))
