"""``kaisen users``: the tenant's users through the API, for its root user (issue 5 §2, M-USER-1).

Client commands like ``kaisen lines``: they call a running portal over HTTP with the token of
``kaisen login`` (or ``KAISEN_TOKEN`` / an API key from the environment) and print JSON. Django is not
loaded here.
"""

from __future__ import annotations

from typing import Annotated

import typer

users_app = typer.Typer(help="List, create, show and unlock the tenant's users (root user; calls the API).",
                        no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option("--url", help="Portal address (default $KAISEN_URL or the saved one).")]


@users_app.command("list")
def users_list(url: UrlOpt = None) -> None:
    """Every user of the tenant as JSON."""
    from kaisen.cli import _api, _print_json

    _print_json(_api("GET", "/users", url=url))


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
    from kaisen.cli import _api, _print_json

    if password is None:
        password = typer.prompt("Initial password", hide_input=True, confirmation_prompt=True)
    _print_json(_api("POST", "/users", url=url, body={"username": username, "password": password,
                                                     "display_name": display_name, "email": email,
                                                     "roles": list(role or [])}))


@users_app.command("get")
def users_get(user_id: Annotated[int, typer.Argument(help="The user's ID.")], url: UrlOpt = None) -> None:
    """One user as JSON."""
    from kaisen.cli import _api, _print_json

    _print_json(_api("GET", f"/users/{user_id}", url=url))


@users_app.command("unlock")
def users_unlock(user_id: Annotated[int, typer.Argument(help="The user's ID.")], url: UrlOpt = None) -> None:
    """End the user's lock and clear the failed-login counter."""
    from kaisen.cli import _api, _print_json

    _print_json(_api("POST", f"/users/{user_id}/unlock", url=url))
