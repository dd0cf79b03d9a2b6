"""``kaisen bills``: Bills: rating, monthly close, invoices and their PDF (issue 4)."""

from __future__ import annotations

import typer

billing_app = typer.Typer(help="Bills: rating, monthly close, invoices and their PDF (issue 4).", no_args_is_help=True)
