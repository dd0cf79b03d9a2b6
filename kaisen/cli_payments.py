"""``kaisen payments``: Payment methods and payments (issue 4 §5)."""

from __future__ import annotations

import typer

payments_app = typer.Typer(help="Payment methods and payments (issue 4 §5).", no_args_is_help=True)
