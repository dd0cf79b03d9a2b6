"""``kaisen roles``: Roles, policies, line tags and approvals of the tenant (issue 5 §1, §6).

Client commands like ``kaisen lines``: they call a running portal over HTTP with the token of ``kaisen login``
(or ``KAISEN_TOKEN`` / an API key from the environment) and print JSON. A refusal prints
``{"status": 403, "code": "PERMISSION_DENIED", "message": ..., "action": ...}`` on stderr and exits 1.
Django is not loaded here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api, emit, print_json, request

access_app = typer.Typer(help="Roles, policies, line tags and approvals of the tenant (calls the API).",
                         no_args_is_help=True)
tags_app = typer.Typer(help="Line tags: department, cost centre and group; tag lines (one, or many from CSV).",
                       no_args_is_help=True)
approvals_app = typer.Typer(help="The approval queue of cancellations, port-outs and plan changes.",
                            no_args_is_help=True)
access_app.add_typer(tags_app, name="tags")
access_app.add_typer(approvals_app, name="approvals")

AllowOpt = Annotated[list[str] | None, typer.Option("--allow", help="An action (or Resource:*, *) to allow; repeat.")]
DenyOpt = Annotated[list[str] | None, typer.Option("--deny", help="An action (or Resource:*, *) to deny; repeat.")]


def _call(method: str, path: str, *, url: str | None, body: dict[str, Any] | None = None,
          params: dict[str, Any] | None = None) -> Any:
    return api(method, path, url=url, body=body, params=params)


def _show(data: Any) -> None:
    print_json(data)


def _statements(allow: list[str] | None, deny: list[str] | None) -> list[dict[str, str]]:
    return ([{"effect": "allow", "action": a} for a in allow or []]
            + [{"effect": "deny", "action": d} for d in deny or []])


@access_app.command("me")
def me(url: UrlOpt = None) -> None:
    """What this login (or API key) may do: roles, actions, line limit."""
    _show(_call("GET", "/access/me", url=url))


@access_app.command("can")
def can(action: Annotated[str, typer.Argument(help="An action, e.g. Line:cancel.")], url: UrlOpt = None) -> None:
    """Whether this login may perform ACTION; exits 1 when it may not."""
    result = _call("GET", "/access/check", url=url, params={"action": action})
    _show(result)
    if not result["allowed"]:
        raise typer.Exit(1)


@access_app.command("actions")
def actions_list(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The catalogue of actions."""
    emit(_call("GET", "/access/actions", url=url))


@access_app.command("list")
def roles_list(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """Built-in and custom roles with their statements."""
    emit(_call("GET", "/roles", url=url))


@access_app.command("show")
def roles_show(role_id: Annotated[int, typer.Argument(help="The role's ID.")], url: UrlOpt = None) -> None:
    """One role."""
    _show(_call("GET", f"/roles/{role_id}", url=url))


@access_app.command("create")
def roles_create(
    name: Annotated[str, typer.Argument(help="The role's name.")],
    allow: AllowOpt = None,
    deny: DenyOpt = None,
    description: Annotated[str, typer.Option(help="What the role is for.")] = "",
    approval: Annotated[bool, typer.Option("--approval/--no-approval",
                                           help="Its holders' cancellations, port-outs and plan changes need "
                                                "approval.")] = False,
    tag: Annotated[list[int] | None, typer.Option("--tag", help="Limit its holders to lines with this tag ID.")] = None,
    url: UrlOpt = None,
) -> None:
    """Create a custom role, e.g. ``kaisen roles create Support --allow 'Line:*' --deny Line:cancel``."""
    _show(_call("POST", "/roles", url=url, body={"name": name, "description": description,
                                                 "statements": _statements(allow, deny),
                                                 "requires_approval": approval, "line_tag_ids": list(tag or [])}))


@access_app.command("update")
def roles_update(
    role_id: Annotated[int, typer.Argument(help="The role's ID.")],
    allow: AllowOpt = None,
    deny: DenyOpt = None,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    approval: Annotated[bool | None, typer.Option("--approval/--no-approval", help="Require approval.")] = None,
    url: UrlOpt = None,
) -> None:
    """Change a custom role; --allow/--deny given replace all its statements."""
    body: dict[str, Any] = {}
    if allow or deny:
        body["statements"] = _statements(allow, deny)
    if name is not None:
        body["name"] = name
    if approval is not None:
        body["requires_approval"] = approval
    _show(_call("PATCH", f"/roles/{role_id}", url=url, body=body))


@access_app.command("delete")
def roles_delete(role_id: Annotated[int, typer.Argument(help="The role's ID.")], url: UrlOpt = None) -> None:
    """Delete a custom role (its holders lose it)."""
    _call("DELETE", f"/roles/{role_id}", url=url)
    _show({"deleted": role_id})


@access_app.command("user")
def user_show(user_id: Annotated[int, typer.Argument(help="The user's ID.")], url: UrlOpt = None) -> None:
    """A user's roles, own statements and line limit."""
    _show(_call("GET", f"/users/{user_id}/access", url=url))


@access_app.command("assign")
def assign(
    user_id: Annotated[int, typer.Argument(help="The user's ID.")],
    roles: Annotated[list[str] | None, typer.Argument(help="Role IDs, built-in keys or custom names; none: no role.")]
    = None,
    url: UrlOpt = None,
) -> None:
    """Give a user exactly these roles."""
    _show(_call("PUT", f"/users/{user_id}/roles", url=url, body={"roles": list(roles or [])}))


@access_app.command("grant")
def grant(user_id: Annotated[int, typer.Argument(help="The user's ID.")], allow: AllowOpt = None, deny: DenyOpt = None,
          url: UrlOpt = None) -> None:
    """Attach statements to a user directly (replacing their own statements)."""
    _show(_call("PUT", f"/users/{user_id}/statements", url=url, body={"statements": _statements(allow, deny)}))


@access_app.command("limit")
def limit(
    user_id: Annotated[int, typer.Argument(help="The user's ID.")],
    tags: Annotated[list[str] | None, typer.Argument(help="Tag IDs or kind:name; none lifts the user's limit.")]
    = None,
    url: UrlOpt = None,
) -> None:
    """Limit a user to the lines carrying one of these tags."""
    _show(_call("PUT", f"/users/{user_id}/line-tags", url=url, body={"tags": list(tags or [])}))


@access_app.command("approval-required")
def approval_required(on: Annotated[bool, typer.Argument(help="true or false")], url: UrlOpt = None) -> None:
    """Require (or not) a second user's approval of every cancellation, port-out and plan change."""
    _show(_call("PUT", "/access/settings", url=url, body={"approval_required": on}))


@access_app.command("key-scope")
def key_scope(
    key_id: Annotated[str, typer.Argument(help="One of your API keys (KK...).")],
    actions: Annotated[list[str] | None, typer.Argument(help="The actions the key may use; none with --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Lift the narrowing: the key may do what you may.")] = False,
    url: UrlOpt = None,
) -> None:
    """Narrow one of your API keys to ACTIONS (it never does more than you may); without arguments: show it."""
    if all_:
        _show(_call("PUT", f"/api-keys/{key_id}/permissions", url=url, body={"actions": None}))
    elif actions:
        _show(_call("PUT", f"/api-keys/{key_id}/permissions", url=url, body={"actions": list(actions)}))
    else:
        _show(_call("GET", f"/api-keys/{key_id}/permissions", url=url))


# --- tags ------------------------------------------------------------------------------------------------

@tags_app.command("list")
def tags_list(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The tenant's line tags (a line-limited user: theirs)."""
    emit(_call("GET", "/line-tags", url=url))


@tags_app.command("create")
def tags_create(kind: Annotated[str, typer.Argument(help="department, cost_centre or group")],
                name: Annotated[str, typer.Argument(help="The tag's name.")], url: UrlOpt = None) -> None:
    """Create a tag."""
    _show(_call("POST", "/line-tags", url=url, body={"kind": kind, "name": name}))


@tags_app.command("delete")
def tags_delete(tag_id: Annotated[int, typer.Argument(help="The tag's ID.")], url: UrlOpt = None) -> None:
    """Delete a tag no user or role is limited to."""
    _call("DELETE", f"/line-tags/{tag_id}", url=url)
    _show({"deleted": tag_id})


@tags_app.command("line")
def tags_line(
    line_id: Annotated[int, typer.Argument(help="The line's ID.")],
    tags: Annotated[list[str] | None, typer.Argument(help="Tag IDs or kind:name to set; none: show.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every tag of the line.")] = False,
    url: UrlOpt = None,
) -> None:
    """Show a line's tags, or set them."""
    if tags or clear:
        _show(_call("PUT", f"/lines/{line_id}/tags", url=url, body={"tags": list(tags or [])}))
    else:
        _show(_call("GET", f"/lines/{line_id}/tags", url=url))


@tags_app.command("import")
def tags_import(file: Annotated[Path, typer.Argument(help="CSV with the header line,tags.", exists=True,
                                                     dir_okay=False)], url: UrlOpt = None) -> None:
    """Tag many lines from a CSV (tags kind:name separated by ;); one result per row; exits 1 if a row failed."""
    rows = request("POST", "/line-tags/import", url=url,
                   files={"file": (file.name, file.read_bytes(), "text/csv")}).json()
    _show(rows)
    if any(not r["ok"] for r in rows):
        raise typer.Exit(1)


# --- approvals -------------------------------------------------------------------------------------------

@approvals_app.command("list")
def approvals_list(status: Annotated[str, typer.Option(help="pending, approved, rejected, withdrawn or ''.")]
                   = "pending", fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """Requests you may decide (or your own)."""
    emit(_call("GET", "/approvals", url=url, params={"status": status}))


@approvals_app.command("show")
def approvals_show(approval_id: Annotated[int, typer.Argument(help="The request's ID.")], url: UrlOpt = None) -> None:
    """One request."""
    _show(_call("GET", f"/approvals/{approval_id}", url=url))


@approvals_app.command("approve")
def approvals_approve(approval_id: Annotated[int, typer.Argument(help="The request's ID.")],
                      note: Annotated[str, typer.Option(help="Kept in the audit log.")] = "",
                      url: UrlOpt = None) -> None:
    """Approve: the order is submitted now."""
    _show(_call("POST", f"/approvals/{approval_id}/approve", url=url, body={"note": note}))


@approvals_app.command("reject")
def approvals_reject(approval_id: Annotated[int, typer.Argument(help="The request's ID.")],
                     note: Annotated[str, typer.Option(help="Kept in the audit log.")] = "",
                     url: UrlOpt = None) -> None:
    """Reject: nothing is ordered."""
    _show(_call("POST", f"/approvals/{approval_id}/reject", url=url, body={"note": note}))


@approvals_app.command("withdraw")
def approvals_withdraw(approval_id: Annotated[int, typer.Argument(help="The request's ID.")],
                       url: UrlOpt = None) -> None:
    """Withdraw your own pending request."""
    _show(_call("POST", f"/approvals/{approval_id}/withdraw", url=url))
