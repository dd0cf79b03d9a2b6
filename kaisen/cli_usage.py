"""``kaisen usage``: Usage: import carrier usage files (operator) and read usage (issue 4)."""

from __future__ import annotations

import typer

usage_app = typer.Typer(help="Usage: import carrier usage files (operator) and read usage (issue 4).",
                        no_args_is_help=True)
