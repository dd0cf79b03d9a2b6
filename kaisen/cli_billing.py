"""``kaisen bills``: a tenant's bills through the API (issue 4 §8; K-4, S-BILL-2, X-INVOICE-JP).

Client commands like ``kaisen lines``: they call a running portal over HTTP with the token of
``kaisen login`` (or ``KAISEN_TOKEN`` / an API key from the environment) and print JSON; errors print
``{"status", "code", "message"}`` on stderr and exit 1. Django is not loaded here. The operator's side
(rating, close, TTS rates) is ``kaisen billing``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

billing_app = typer.Typer(help="Your bills: months and status, detail, per-number charges, call details, invoice "
                               "PDF (calls the API; log in first with `kaisen login`).", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option("--url", help="Portal address (default $KAISEN_URL or the saved one).")]
CoverageOpt = Annotated[str, typer.Option(help="japan or global.")]
BillId = Annotated[int, typer.Argument(help="The bill's ID (the `id` of `kaisen bills list`).")]


@billing_app.command("list")
def bills_list(
    months: Annotated[int, typer.Option(min=1, max=84, help="Months back, this one included (K-4: 4).")] = 4,
    coverage: Annotated[str, typer.Option(help="Only japan or global.")] = "",
    url: UrlOpt = None,
) -> None:
    """Bills of the last months with status and totals, newest first."""
    from kaisen.cli import _api, _print_json

    params: dict[str, Any] = {"months": months}
    if coverage:
        params["coverage"] = coverage
    _print_json(_api("GET", "/bills", url=url, params=params))


@billing_app.command("show")
def bills_show(bill_id: BillId, url: UrlOpt = None) -> None:
    """One bill: totals, tax per rate, items summed by cost type and tax class."""
    from kaisen.cli import _api, _print_json

    _print_json(_api("GET", f"/bills/{bill_id}", url=url))


@billing_app.command("combined")
def bills_combined(url: UrlOpt = None) -> None:
    """Combined billing (S-BILL-5): the accounts whose bills are on one invoice with this account's."""
    from kaisen.cli import _api, _print_json

    _print_json(_api("GET", "/billing/combined", url=url))


@billing_app.command("current")
def bills_current(coverage: CoverageOpt = "japan", url: UrlOpt = None) -> None:
    """This month's provisional charges by category and day by day (S-BILL-2)."""
    from kaisen.cli import _api, _print_json

    _print_json(_api("GET", "/bills/current", url=url, params={"coverage": coverage}))


@billing_app.command("numbers")
def bills_numbers(
    bill_id: BillId,
    q: Annotated[str, typer.Option(help="Phone number, or its beginning.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=500, help="Numbers per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="`next_cursor` of the previous page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every number.")] = False,
    url: UrlOpt = None,
) -> None:
    """Call charges by phone number (domestic, international, au, other mobile; K-4, K-6)."""
    from kaisen.cli import print_pages

    print_pages(f"/bills/{bill_id}/numbers", params={"q": q, "limit": limit}, cursor=cursor, all_pages=all_pages,
                url=url)


@billing_app.command("items")
def bills_items(
    bill_id: BillId,
    msisdn: Annotated[str, typer.Option(help="Only this phone number's items.")] = "",
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every item.")] = False,
    cursor: Annotated[str | None, typer.Option(help="`next_cursor` of the previous page.")] = None,
    url: UrlOpt = None,
) -> None:
    """The bill's items one by one."""
    from kaisen.cli import print_pages

    print_pages(f"/bills/{bill_id}/items", params={"msisdn": msisdn}, cursor=cursor, all_pages=all_pages, url=url)


@billing_app.command("calls")
def bills_calls(
    bill_id: BillId,
    msisdn: Annotated[str, typer.Argument(help="The phone number.")],
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Calls per page (K-4: 10).")] = 10,
    url: UrlOpt = None,
) -> None:
    """One number's call details of the bill's month, 10 per page (K-4)."""
    from kaisen.cli import _api, _print_json

    _print_json(_api("GET", f"/bills/{bill_id}/numbers/{msisdn}/calls", url=url,
                     params={"page": page, "limit": limit}))


@billing_app.command("pdf")
def bills_pdf(
    bill_id: BillId,
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the PDF to this file.")],
    url: UrlOpt = None,
) -> None:
    """Download the qualified invoice (PDF) of an issued bill (X-INVOICE-JP)."""
    from kaisen.cli import _api_stream, _print_json

    with _api_stream(f"/bills/{bill_id}/pdf", url=url, timeout=120) as resp:
        content = resp.read()
    out.write_bytes(content)
    _print_json({"bill_id": bill_id, "file": str(out), "bytes": len(content)})
