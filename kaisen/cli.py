"""``kaisen``: the command tree, assembled from what each app offers in its own ``cli.py``.

- customer commands (``login``, ``lines``, ``orders``, ``bills`` …) call the REST API of a running portal
  over HTTP and print JSON (plumbing in ``kaisen.core.cli``);
- running the portal (``serve``, ``worker``, ``migrate``, ``demo``, ``manage``: ``kaisen.server``) and the
  operator's back-office commands (``kaisen admin …``) run Django in this process against
  ``KAISEN_DATA_DIR`` / ``DATABASE_URL``;
- the benchmarks (``kaisen bench …``) live in ``kaisen.benchmarks``, which nothing else imports.

Nothing but this module's caller imports it: the apps' ``cli.py`` files import ``kaisen.core.cli`` only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kaisen import server
from kaisen.access.cli import access_app
from kaisen.accounts.cli import apikeys_app, createstaff, login, logout, users_app
from kaisen.alerts.cli import alerts_app, webhooks_app
from kaisen.audit.cli import audit_app
from kaisen.benchmarks.cli import bench_app
from kaisen.billing.cli import billing_ops_app, bills_app
from kaisen.controls.cli import controls_admin_app, notices_app
from kaisen.core.cli import LANGUAGES, FormatOpt, set_lang, state
from kaisen.goods.cli import goods_admin_app, goods_app
from kaisen.lines.cli import lines_app
from kaisen.payments.cli import payments_admin_app, payments_app
from kaisen.procedures.cli import bulk_app, mnp_app, orders_app
from kaisen.statements.cli import statements_app
from kaisen.tenancy.cli import account_app
from kaisen.usage.cli import usage_admin_app, usage_app

RUN_PANEL = "Run the portal (on its server)"
OPERATOR_PANEL = "Operator (back office, on the portal's server)"
BENCH_PANEL = "Benchmarks"

app = typer.Typer(
    help="Kaisen (回線) — self-service portal for corporate mobile lines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def root(
    fmt: FormatOpt = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="ja or en: the language of messages (default: from LANG / LC_ALL, else Japanese).")] = None,
) -> None:
    """Options for every command: the output format of listings and the language of messages."""
    if lang is not None and lang not in LANGUAGES:
        raise typer.BadParameter("ja or en", param_hint="--lang")
    state.format = fmt
    set_lang(lang)


# Customer commands: they call the API with the login of `kaisen login`.
app.command()(login)
app.command()(logout)
app.add_typer(account_app, name="account")
app.add_typer(lines_app, name="lines")
app.add_typer(orders_app, name="orders")
app.add_typer(mnp_app, name="mnp")
app.add_typer(bulk_app, name="bulk")
app.add_typer(usage_app, name="usage")
app.add_typer(bills_app, name="bills")
app.add_typer(payments_app, name="payments")
app.add_typer(statements_app, name="statements")
app.add_typer(goods_app, name="goods")
app.add_typer(users_app, name="users")
app.add_typer(access_app, name="roles")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(audit_app, name="audit")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(alerts_app, name="alerts")
app.add_typer(notices_app, name="notices")

# Running the portal.
app.command(rich_help_panel=RUN_PANEL)(server.serve)
app.command(rich_help_panel=RUN_PANEL)(server.worker)
app.command(rich_help_panel=RUN_PANEL)(server.migrate)
app.command(rich_help_panel=RUN_PANEL)(server.demo)
app.command(rich_help_panel=RUN_PANEL,
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(server.manage)

# The operator's back office.
admin_app = typer.Typer(help="Operator commands: billing runs, usage imports, payments, staff users (server side).",
                        no_args_is_help=True)
admin_app.command()(createstaff)
admin_app.add_typer(billing_ops_app, name="billing")
admin_app.add_typer(usage_admin_app, name="usage")
admin_app.add_typer(payments_admin_app, name="payments")
admin_app.add_typer(goods_admin_app, name="goods")
admin_app.add_typer(controls_admin_app, name="controls")
app.add_typer(admin_app, name="admin", rich_help_panel=OPERATOR_PANEL)

app.add_typer(bench_app, name="bench", rich_help_panel=BENCH_PANEL)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
