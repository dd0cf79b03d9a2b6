"""``kaisen statements``: CSV statements: request, status, download (issue 4 §6)."""

from __future__ import annotations

import typer

statements_app = typer.Typer(help="CSV statements: request, status, download (issue 4 §6).", no_args_is_help=True)
