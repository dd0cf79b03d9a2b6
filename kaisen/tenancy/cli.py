"""``kaisen account``: contract summary (K-1), phone numbers (K-2), contract holder info and login email
(S-ACC-3), SIM transfer (S-ACC-4) and account deletion (S-ACC-5) through the API.

Client commands like ``kaisen lines``: they call a running portal over HTTP with the token of ``kaisen login``
(or ``KAISEN_TOKEN`` / an API key from the environment) and print JSON. Django is not loaded here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kaisen.core.cli import UrlOpt, api, print_json

account_app = typer.Typer(help="The account: contract, phone numbers, contract holder, SIM transfer, deletion "
                               "(calls the API).", no_args_is_help=True)
transfer_app = typer.Typer(help="Transfer never-used SIMs to another account, or accept them (root user).",
                           no_args_is_help=True)
account_app.add_typer(transfer_app, name="transfer")


def _call(method: str, path: str, *, url: str | None, body: dict | None = None) -> None:
    result = api(method, path, url=url, body=body)
    if result is not None:
        print_json(result)


@account_app.command("contract")
def contract(url: UrlOpt = None) -> None:
    """The contract summary as JSON."""
    _call("GET", "/account/contract", url=url)


@account_app.command("number")
def number(line_id: Annotated[int | None, typer.Argument(help="Line ID (default: the first number).")] = None,
           url: UrlOpt = None) -> None:
    """One phone number with prev_line_id / next_line_id for BACK / NEXT."""
    _call("GET", f"/account/numbers/{line_id}" if line_id is not None else "/account/numbers", url=url)


@account_app.command("profile")
def profile(
    contact_name: Annotated[str | None, typer.Option(help="Contact name.")] = None,
    contact_name_kana: Annotated[str | None, typer.Option(help="Contact name in katakana.")] = None,
    contact_phone: Annotated[str | None, typer.Option(help="Contact phone.")] = None,
    contact_email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    notification_email: Annotated[str | None, typer.Option(help="Notification email.")] = None,
    postal_code: Annotated[str | None, typer.Option(help="Postal code (7 digits).")] = None,
    address: Annotated[str | None, typer.Option(help="Address.")] = None,
    url: UrlOpt = None,
) -> None:
    """Show the contract holder information, or change the fields given (root user)."""
    changes = {k: v for k, v in {
        "contact_name": contact_name, "contact_name_kana": contact_name_kana, "contact_phone": contact_phone,
        "contact_email": contact_email, "notification_email": notification_email, "postal_code": postal_code,
        "address": address}.items() if v is not None}
    if changes:
        _call("PATCH", "/account/profile", url=url, body=changes)
    else:
        _call("GET", "/account/profile", url=url)


@account_app.command("sign-in")
def sign_in_settings(
    idle_minutes: Annotated[int | None, typer.Option(
        "--idle-minutes", min=5, max=1440,
        help="Sign a browser session out after this many idle minutes (5 to 1440; root user).")] = None,
    url: UrlOpt = None,
) -> None:
    """Show the sign-in settings of the account, or change the idle timeout of browser sessions."""
    if idle_minutes is not None:
        _call("PATCH", "/account/session-settings", url=url, body={"session_idle_minutes": idle_minutes})
    else:
        _call("GET", "/account/session-settings", url=url)


@account_app.command("login-email")
def login_email(email: Annotated[str, typer.Argument(help="The new login email.")], url: UrlOpt = None) -> None:
    """Ask to change the root user's login email: a link valid 24 hours is mailed to the new address."""
    _call("POST", "/account/login-email", url=url, body={"email": email})


@account_app.command("login-email-confirm")
def login_email_confirm(token: Annotated[str, typer.Argument(help="The token of the mailed link.")],
                        url: UrlOpt = None) -> None:
    """Confirm the change with the token from the link (the part after ``token=``)."""
    _call("POST", "/account/login-email/confirm", url=url, body={"token": token})


@transfer_app.command("list")
def transfer_list(url: UrlOpt = None) -> None:
    """Transfers sent and received."""
    _call("GET", "/account/transfers", url=url)


@transfer_app.command("create")
def transfer_create(
    to: Annotated[str, typer.Option("--to", help="The receiving account's operator ID.")],
    lines: Annotated[list[str], typer.Argument(help="Phone numbers or SIM serial numbers.")],
    url: UrlOpt = None,
) -> None:
    """Offer never-used SIMs to another account; prints the single-use code (shown only once)."""
    _call("POST", "/account/transfers", url=url, body={"to_operator_id": to, "lines": lines})


@transfer_app.command("show")
def transfer_show(transfer_id: Annotated[int, typer.Argument()], url: UrlOpt = None) -> None:
    _call("GET", f"/account/transfers/{transfer_id}", url=url)


@transfer_app.command("cancel")
def transfer_cancel(transfer_id: Annotated[int, typer.Argument()], url: UrlOpt = None) -> None:
    """Withdraw an open transfer this account sent."""
    _call("POST", f"/account/transfers/{transfer_id}/cancel", url=url)


@transfer_app.command("preview")
def transfer_preview(token: Annotated[str, typer.Argument(help="The transfer code.")], url: UrlOpt = None) -> None:
    """Receiving account: list the SIMs a code offers (nothing changes)."""
    _call("POST", "/account/transfers/preview", url=url, body={"token": token})


@transfer_app.command("accept")
def transfer_accept(token: Annotated[str, typer.Argument(help="The transfer code.")], url: UrlOpt = None) -> None:
    """Receiving account: accept — every SIM moves, or none."""
    _call("POST", "/account/transfers/accept", url=url, body={"token": token})


@account_app.command("deletion-check")
def deletion_check(url: UrlOpt = None) -> None:
    """What still blocks deleting the account."""
    _call("GET", "/account/deletion", url=url)


@account_app.command("delete")
def delete(
    operator_id: Annotated[str, typer.Option(help="Type the operator ID to confirm.")],
    password: Annotated[str | None, typer.Option(help="Your password (prompted when omitted).")] = None,
    url: UrlOpt = None,
) -> None:
    """Delete the account — irreversible (root user). Data is kept as the law requires."""
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    _call("POST", "/account/deletion", url=url, body={"operator_id": operator_id, "password": password})
