"""``kaisen roles``: Roles, policies and approvals of the tenant (issue 5 §1)."""

from __future__ import annotations

import typer

access_app = typer.Typer(help="Roles, policies and approvals of the tenant (issue 5 §1).", no_args_is_help=True)
