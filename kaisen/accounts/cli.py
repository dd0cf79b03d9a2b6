"""``kaisen login`` / ``logout``, ``kaisen apikeys`` and ``kaisen users``: logging in, API keys and the tenant's
users through the API (issue 5 §2, M-USER-1); ``kaisen admin createstaff``: an operator staff user (server side).

Client commands like ``kaisen lines``: they call a running portal over HTTP with the token of ``kaisen login``
(or ``KAISEN_TOKEN`` / an API key from the environment) and print JSON. Django is not loaded for them.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from kaisen.core.cli import (
    FormatOpt,
    UrlOpt,
    api,
    base_url,
    django_setup,
    emit,
    load_config,
    post_auth,
    print_json,
    save_config,
)

users_app = typer.Typer(help="List, create, show and unlock the tenant's users (root user; calls the API).",
                        no_args_is_help=True)
apikeys_app = typer.Typer(help="Manage your API keys (calls the API).", no_args_is_help=True)


def login(
    operator_id: Annotated[str | None, typer.Option(help="Operator ID (OP + 10 digits).")] = None,
    username: Annotated[str | None, typer.Option(help="Username.")] = None,
    password: Annotated[str | None, typer.Option(help="Password (prompted when omitted).")] = None,
    api_key_id: Annotated[str | None, typer.Option(help="Log in with an API key ID instead.")] = None,
    api_key_secret: Annotated[str | None, typer.Option(help="The API key's secret (prompted when omitted).")] = None,
    code: Annotated[str | None, typer.Option(help="Two-step login code (prompted when asked for).")] = None,
    email: Annotated[str | None, typer.Option(help="Root user: log in with the login email instead.")] = None,
    url: UrlOpt = None,
) -> None:
    """Get a bearer token and keep it (in ~/.config/kaisen/credentials.json) for the client commands.

    For a user with two-step login, the command then asks for the emailed code (認証コード) or the code of
    the authenticator app (or a recovery code).
    """
    base = base_url(url)
    if api_key_id:
        secret = api_key_secret or typer.prompt("API key secret", hide_input=True)
        data = post_auth(base, {"key_id": api_key_id, "secret": secret})
    elif email:
        pw = password if password is not None else typer.prompt("Password", hide_input=True)
        data = post_auth(base, {"email": email, "password": pw}, mfa_code=code)
    else:
        operator_id = operator_id or typer.prompt("Operator ID")
        username = username or typer.prompt("Username")
        pw = password if password is not None else typer.prompt("Password", hide_input=True)
        data = post_auth(base, {"operator_id": operator_id, "username": username, "password": pw},
                         mfa_code=code)
    save_config({"url": base, "token": data["token"], "expires_at": data["expires_at"]})
    print_json({"operator_id": data["operator_id"], "username": data["username"], "expires_at": data["expires_at"]})


def logout(url: UrlOpt = None) -> None:
    """Revoke the saved token and forget it."""
    saved = load_config()
    base = base_url(url)
    if saved.get("token"):
        httpx.delete(f"{base}/api/v1/auth", headers={"Authorization": f"Bearer {saved['token']}"}, timeout=30)
    save_config({"url": base})
    typer.echo("Logged out.")


@apikeys_app.command("list")
def apikeys_list(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """List your API keys."""
    emit(api("GET", "/api-keys", url=url))


@apikeys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by.")],
    expires_at: Annotated[str | None, typer.Option(help="ISO date-time after which the key stops working.")] = None,
    url: UrlOpt = None,
) -> None:
    """Create an API key; its secret is printed once, now."""
    body: dict[str, Any] = {"name": name}
    if expires_at:
        body["expires_at"] = expires_at
    print_json(api("POST", "/api-keys", url=url, body=body))


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[str, typer.Argument(help="The key ID (KK...).")], url: UrlOpt = None) -> None:
    """Revoke an API key and every token issued for it."""
    print_json(api("DELETE", f"/api-keys/{key_id}", url=url))


def createstaff(
    username: Annotated[str, typer.Argument(help="Username of the operator staff member (6-32 of A-Z a-z 0-9 _).")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create an operator staff user for the back office (/admin/)."""
    django_setup()
    from kaisen.accounts.services import user_create
    from kaisen.core.errors import DomainError

    try:
        user_create(tenant=None, username=username, password=password, is_staff=True, is_superuser=True)
    except DomainError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Created operator staff user {username}.")


@users_app.command("list")
def users_list(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """Every user of the tenant as JSON."""
    emit(api("GET", "/users", url=url))


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="6-32 letters, digits and underscore.")],
    password: Annotated[str | None, typer.Option(help="Initial password (prompted when omitted).")] = None,
    display_name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    email: Annotated[str, typer.Option(help="Email address.")] = "",
    role: Annotated[list[str] | None, typer.Option(
        "--role", help="A role to give (administrator, operations, accounting, read_only, or a custom role's "
                       "name); repeat for several.")] = None,
    url: UrlOpt = None,
) -> None:
    """Create a limited user with an initial password that meets the tenant's password rules, and roles."""
    if password is None:
        password = typer.prompt("Initial password", hide_input=True, confirmation_prompt=True)
    print_json(api("POST", "/users", url=url, body={"username": username, "password": password,
                                                     "display_name": display_name, "email": email,
                                                     "roles": list(role or [])}))


@users_app.command("get")
def users_get(user_id: Annotated[int, typer.Argument(help="The user's ID.")], url: UrlOpt = None) -> None:
    """One user as JSON."""
    print_json(api("GET", f"/users/{user_id}", url=url))


@users_app.command("unlock")
def users_unlock(user_id: Annotated[int, typer.Argument(help="The user's ID.")], url: UrlOpt = None) -> None:
    """End the user's lock and clear the failed-login counter."""
    print_json(api("POST", f"/users/{user_id}/unlock", url=url))
