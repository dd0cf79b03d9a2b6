"""``kaisen``: run the portal, make demo data, and script a fleet of lines through the API.

Server-side commands (``serve``, ``migrate``, ``demo``, ``createstaff``, ``manage``, ``bench``) run Django
in this process against ``KAISEN_DATA_DIR`` / ``DATABASE_URL``. Client commands (``login``, ``lines``,
``apikeys``) call the REST API of a running portal over HTTP and print JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from kaisen.bench_orders import bench_orders_command
from kaisen.bench_usage import bench_usage_command
from kaisen.billing.bench import bench_close_command
from kaisen.cli_access import access_app
from kaisen.cli_account import account_app
from kaisen.cli_audit import audit_app
from kaisen.cli_billing import billing_app
from kaisen.cli_billing_ops import billing_ops_app
from kaisen.cli_payments import payments_app
from kaisen.cli_procedures import bulk_app, mnp_app, orders_app
from kaisen.cli_statements import statements_app
from kaisen.cli_usage import usage_app
from kaisen.cli_users import users_app
from kaisen.statements.bench import bench_export_command

app = typer.Typer(
    help="Kaisen (回線) — self-service portal for corporate mobile lines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lines_app = typer.Typer(help="Look up lines (calls the API; log in first with `kaisen login`).", no_args_is_help=True)
apikeys_app = typer.Typer(help="Manage your API keys (calls the API).", no_args_is_help=True)
app.add_typer(lines_app, name="lines")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(orders_app, name="orders")
app.add_typer(mnp_app, name="mnp")
app.add_typer(bulk_app, name="bulk")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.add_typer(access_app, name="roles")
app.add_typer(usage_app, name="usage")
app.add_typer(billing_app, name="bills")
app.add_typer(billing_ops_app, name="billing")
app.add_typer(payments_app, name="payments")
app.add_typer(statements_app, name="statements")
app.add_typer(account_app, name="account")


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django

    django.setup()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# ------------------------------------------------------------------------------------------------
# Server side
# ------------------------------------------------------------------------------------------------

def _pending_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


def start_worker_thread(*, interval: float = 1.0) -> tuple[threading.Thread, Any]:
    """Run the django-tasks database worker in a daemon thread of this process."""
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(queue_names=["*"], interval=interval, batch=False, backend_name="default",
                    startup_delay=False, max_tasks=None, worker_id=f"serve-{os.getpid()}", excluded_queue_names=[])
    thread = threading.Thread(target=worker.run, name="kaisen-task-worker", daemon=True)
    thread.start()
    return thread, worker


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    threads: Annotated[int, typer.Option(help="Web worker threads.")] = 8,
    worker: Annotated[bool, typer.Option(help="Run the background task worker inside this process.")] = True,
) -> None:
    """Serve the portal (waitress) with the task worker in the same process."""
    _django()
    from django.conf import settings

    pending = _pending_migrations()
    if pending:
        typer.echo(f"The database needs migrating ({len(pending)} migrations pending): run `kaisen migrate`.", err=True)
        raise typer.Exit(2)
    import waitress

    from kaisen.wsgi import application

    if worker:
        from kaisen.procedures.worker import start_scheduler_thread

        start_worker_thread()
        start_scheduler_thread(settings.KAISEN_SCHEDULER_INTERVAL)
    db = settings.DATABASES["default"]
    where = db["NAME"] if db["ENGINE"].endswith("sqlite3") else f"PostgreSQL {db.get('HOST')}/{db['NAME']}"
    typer.echo(f"Kaisen on http://{host}:{port}/  (data: {settings.DATA_DIR}; database: {where}; "
               f"task worker and scheduler: {'in this process' if worker else 'off'})")
    typer.echo(f"Log in at http://{host}:{port}/login/ (operator back office: http://{host}:{port}/admin/)")
    waitress.serve(application, host=host, port=port, threads=threads, ident="kaisen", _quiet=True)


@app.command()
def worker() -> None:
    """Run the background task worker and the order scheduler (without the web server) until stopped.

    Run as many as you like next to `kaisen serve --no-worker`: due orders are picked with row locks.
    """
    _django()
    from django.conf import settings

    pending = _pending_migrations()
    if pending:
        typer.echo(f"The database needs migrating ({len(pending)} migrations pending): run `kaisen migrate`.", err=True)
        raise typer.Exit(2)
    from kaisen.procedures.worker import run_worker

    interval = settings.KAISEN_SCHEDULER_INTERVAL
    run_worker(scheduler_interval=interval, on_ready=lambda: typer.echo(
        f"Kaisen worker {os.getpid()} running: tasks and order scheduler (every {interval:g} s); stop with Ctrl+C",
        err=True))


@app.command()
def migrate() -> None:
    """Create or update the database schema."""
    _django()
    from django.core.management import call_command

    pending = _pending_migrations()
    call_command("migrate", interactive=False, verbosity=0)
    typer.echo(f"Database up to date ({len(pending)} migrations applied)." if pending else "Database up to date.")


@app.command()
def demo(
    lines: Annotated[int, typer.Option(help="How many lines to create over the three demo tenants.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 20261122,
    as_json: Annotated[bool, typer.Option("--json", help="Print tenants, users and passwords as JSON.")] = False,
    reset: Annotated[bool, typer.Option(help="Delete the demo tenants first and create them again.")] = False,
) -> None:
    """Create demo data (three companies, their users, N lines). Demo passwords are printed: demo only."""
    _django()
    from kaisen.demo import demo_create

    if lines < 0:
        typer.echo("--lines must be 0 or more.", err=True)
        raise typer.Exit(2)
    pending = _pending_migrations()
    if pending:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    result = demo_create(lines=lines, seed=seed, reset=reset)
    if as_json:
        _print_json(result.as_dict())
        return
    if result.created:
        typer.echo(f"Created demo data: {result.lines} lines in {result.seconds:.1f} s.")
    else:
        typer.echo(f"Demo data already present ({result.lines} lines); use --reset to create it again.")
    typer.echo("Log in at /login/ of the address `kaisen serve` prints (http://127.0.0.1:8000/login/ unless you "
               "pass --port) with (demo passwords, never use them elsewhere):")
    for t in result.tenants:
        for u in t["users"]:
            role = "root" if u["root"] else "user"
            typer.echo(f"  {t['operator_id']}  {u['username']:<12} {u['password']:<22} {role:<5} {t['legal_name']}")
    typer.echo(f"Operator back office /admin/ : {result.staff['username']} / "
               f"{result.staff['password']}")


@app.command()
def createstaff(
    username: Annotated[str, typer.Argument(help="Username of the operator staff member (6-32 of A-Z a-z 0-9 _).")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create an operator staff user for the back office (/admin/)."""
    _django()
    from kaisen.accounts.services import user_create
    from kaisen.core.errors import DomainError

    try:
        user_create(tenant=None, username=username, password=password, is_staff=True, is_superuser=True)
    except DomainError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Created operator staff user {username}.")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Run a Django management command, e.g. `kaisen manage check --deploy`."""
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kaisen manage", *ctx.args])


@app.command()
def bench(
    lines: Annotated[int, typer.Option(help="Lines to generate for the benchmark.")] = 1_000_000,
    lookups: Annotated[int, typer.Option(help="API lookups by phone number to time.")] = 10_000,
    out: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file.")] = None,
) -> None:
    """Foundation benchmark: demo generation, API lookup by number (p50/p99), line list paging.

    Uses the database of this environment (DATABASE_URL or the embedded SQLite under KAISEN_DATA_DIR) and
    RESETS the demo tenants in it. Run it against a throwaway data directory or database.
    """
    _django()
    from kaisen.bench import run_foundation_bench

    figures = run_foundation_bench(lines=lines, lookups=lookups)
    _print_json(figures)
    if out:
        out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str))


app.command("bench-orders")(bench_orders_command)
app.command("bench-usage")(bench_usage_command)
app.command("bench-close")(bench_close_command)
app.command("bench-export")(bench_export_command)


# ------------------------------------------------------------------------------------------------
# Client side
# ------------------------------------------------------------------------------------------------

def _config_path() -> Path:
    base = os.environ.get("KAISEN_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config", "kaisen")
    return Path(base) / "credentials.json"


def _load_config() -> dict[str, Any]:
    path = _config_path()
    if path.exists():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return {}
    return {}


def _save_config(data: dict[str, Any]) -> None:
    path = _config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)


def _base_url(url: str | None) -> str:
    return (url or os.environ.get("KAISEN_URL") or _load_config().get("url") or "http://127.0.0.1:8000").rstrip("/")


def _fail(resp: httpx.Response) -> None:
    try:
        body = resp.json()
    except ValueError:
        body = {"code": f"HTTP_{resp.status_code}", "message": resp.text[:500]}
    typer.echo(json.dumps({"status": resp.status_code, **body}, ensure_ascii=False), err=True)
    raise typer.Exit(1)


def _post_auth(base: str, payload: dict[str, Any], *, mfa_code: str | None = None) -> dict[str, Any]:
    try:
        resp = httpx.post(f"{base}/api/v1/auth", json=payload, timeout=30)
        if resp.status_code == 401 and resp.json().get("code") == "MFA_REQUIRED":
            body = resp.json()
            if mfa_code is None:
                where = ("from your authenticator app (or a recovery code)" if "totp" in body["methods"]
                         else "from the email (認証コード), within 90 seconds")
                mfa_code = typer.prompt(f"Two-step login code {where}")
            resp = httpx.post(f"{base}/api/v1/auth/mfa", json={"challenge_id": body["challenge_id"],
                                                               "code": mfa_code}, timeout=30)
    except httpx.HTTPError as exc:
        typer.echo(f"Cannot reach {base}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if resp.status_code != 200:
        _fail(resp)
    return resp.json()


def _token(base: str) -> str:
    """KAISEN_TOKEN, else an API key from KAISEN_API_KEY_ID/SECRET, else the token saved by `kaisen login`."""
    if os.environ.get("KAISEN_TOKEN"):
        return os.environ["KAISEN_TOKEN"]
    key_id, secret = os.environ.get("KAISEN_API_KEY_ID"), os.environ.get("KAISEN_API_KEY_SECRET")
    if key_id and secret:
        return str(_post_auth(base, {"key_id": key_id, "secret": secret})["token"])
    saved = _load_config()
    if saved.get("token") and saved.get("url", "").rstrip("/") == base:
        return str(saved["token"])
    typer.echo("Not logged in: run `kaisen login`, or set KAISEN_API_KEY_ID and KAISEN_API_KEY_SECRET.", err=True)
    raise typer.Exit(1)


def _api(method: str, path: str, *, url: str | None, params: dict[str, Any] | None = None,
         body: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    base = _base_url(url)
    headers = {"Authorization": f"Bearer {_token(base)}"}
    try:
        resp = httpx.request(method, f"{base}/api/v1{path}", params=params, json=body, headers=headers,
                             timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(f"Cannot reach {base}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if resp.status_code >= 400:
        _fail(resp)
    return resp.json() if resp.content else None


@contextlib.contextmanager
def _api_stream(path: str, *, url: str | None, params: dict[str, Any] | None = None,
                timeout: float = 600) -> Iterator[httpx.Response]:
    """``GET`` a file from the API with the bearer token, as a streamed response (``iter_bytes``). An error
    answer prints ``{status, code, message}`` and exits 1, like ``_api``; so does a lost connection, also
    one lost while the caller reads the body."""
    base = _base_url(url)
    headers = {"Authorization": f"Bearer {_token(base)}"}
    try:
        with httpx.stream("GET", f"{base}/api/v1{path}", params=params, headers=headers, timeout=timeout) as resp:
            if resp.status_code >= 400:
                resp.read()
                _fail(resp)
            yield resp
    except httpx.HTTPError as exc:
        typer.echo(f"Cannot reach {base}: {exc}", err=True)
        raise typer.Exit(1) from exc


def print_all_pages(path: str, *, params: dict[str, Any], url: str | None) -> None:
    """Follow the API's cursors from the first page and stream every item as one JSON array."""
    params = {**params, "limit": 500}
    out = sys.stdout
    out.write("[")
    first = True
    while True:
        page = _api("GET", path, url=url, params=params)
        for item in page["items"]:
            out.write(("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False))
            first = False
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    out.write("\n]\n")


def print_pages(path: str, *, params: dict[str, Any], cursor: str | None, all_pages: bool, url: str | None) -> None:
    """A cursor-paged list: the page at ``cursor`` (the first without one), or with ``all_pages`` every item
    from there on as one JSON array."""
    if cursor:
        params = {**params, "cursor": cursor}
    if all_pages:
        print_all_pages(path, params=params, url=url)
    else:
        _print_json(_api("GET", path, url=url, params=params))


UrlOpt = Annotated[str | None, typer.Option("--url", help="Portal address (default $KAISEN_URL or the saved one).")]


@app.command()
def login(
    operator_id: Annotated[str | None, typer.Option(help="Operator ID (OP + 10 digits).")] = None,
    username: Annotated[str | None, typer.Option(help="Username.")] = None,
    password: Annotated[str | None, typer.Option(help="Password (prompted when omitted).")] = None,
    api_key_id: Annotated[str | None, typer.Option(help="Log in with an API key ID instead.")] = None,
    api_key_secret: Annotated[str | None, typer.Option(help="The API key's secret (prompted when omitted).")] = None,
    code: Annotated[str | None, typer.Option(help="Two-step login code (prompted when asked for).")] = None,
    email: Annotated[str | None, typer.Option(help="Root user: log in with the login email instead (S-ACC-1).")] = None,
    url: UrlOpt = None,
) -> None:
    """Get a bearer token and keep it (in ~/.config/kaisen/credentials.json) for the client commands.

    For a user with two-step login, the command then asks for the emailed code (認証コード) or the code of
    the authenticator app (or a recovery code).
    """
    base = _base_url(url)
    if api_key_id:
        secret = api_key_secret or typer.prompt("API key secret", hide_input=True)
        data = _post_auth(base, {"key_id": api_key_id, "secret": secret})
    elif email:
        pw = password if password is not None else typer.prompt("Password", hide_input=True)
        data = _post_auth(base, {"email": email, "password": pw}, mfa_code=code)
    else:
        operator_id = operator_id or typer.prompt("Operator ID")
        username = username or typer.prompt("Username")
        pw = password if password is not None else typer.prompt("Password", hide_input=True)
        data = _post_auth(base, {"operator_id": operator_id, "username": username, "password": pw},
                          mfa_code=code)
    _save_config({"url": base, "token": data["token"], "expires_at": data["expires_at"]})
    _print_json({"operator_id": data["operator_id"], "username": data["username"], "expires_at": data["expires_at"]})


@app.command()
def logout(url: UrlOpt = None) -> None:
    """Revoke the saved token and forget it."""
    saved = _load_config()
    base = _base_url(url)
    if saved.get("token"):
        httpx.delete(f"{base}/api/v1/auth", headers={"Authorization": f"Bearer {saved['token']}"}, timeout=30)
    _save_config({"url": base})
    typer.echo("Logged out.")


@lines_app.command("list")
def lines_list(
    status: Annotated[str, typer.Option(help="not_activated | active | suspended | cancelled")] = "",
    carrier: Annotated[str, typer.Option(help="docomo | softbank | au")] = "",
    sim_type: Annotated[str, typer.Option(help="data | sms | voice")] = "",
    plan: Annotated[str, typer.Option(help="Plan code.")] = "",
    q: Annotated[str, typer.Option(help="Phone number or SIM serial (prefix).")] = "",
    sort: Annotated[str, typer.Option(help="msisdn, iccid, started_on; prefix - for descending.")] = "msisdn",
    limit: Annotated[int, typer.Option(help="Lines per page (1-500).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Cursor from a previous page's next_cursor.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every line.")] = False,
    url: UrlOpt = None,
) -> None:
    """List lines as JSON: one page ({items, next_cursor, prev_cursor}), or with --all a JSON array of every line."""
    params: dict[str, Any] = {"status": status, "carrier": carrier, "sim_type": sim_type, "plan": plan, "q": q,
                              "sort": sort, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    if not all_pages:
        _print_json(_api("GET", "/lines", url=url, params=params))
        return
    print_all_pages("/lines", params=params, url=url)


@lines_app.command("get")
def lines_get(
    ref: Annotated[str, typer.Argument(help="Phone number, SIM serial (ICCID), or line ID with --id.")],
    by_id: Annotated[bool, typer.Option("--id", help="REF is the line's numeric ID.")] = False,
    url: UrlOpt = None,
) -> None:
    """Show one line (M-LINE-1) by phone number, SIM serial or ID."""
    digits = "".join(ch for ch in ref if ch.isdigit())
    if by_id:
        if not ref.isdigit():
            typer.echo("With --id, REF must be a number.", err=True)
            raise typer.Exit(2)
        path = f"/lines/{ref}"
    elif digits.startswith("89") and len(digits) >= 19:
        path = f"/lines/by-iccid/{ref}"
    else:
        path = f"/lines/by-msisdn/{ref}"
    _print_json(_api("GET", path, url=url))


@apikeys_app.command("list")
def apikeys_list(url: UrlOpt = None) -> None:
    """List your API keys."""
    _print_json(_api("GET", "/api-keys", url=url))


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
    _print_json(_api("POST", "/api-keys", url=url, body=body))


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[str, typer.Argument(help="The key ID (KK...).")], url: UrlOpt = None) -> None:
    """Revoke an API key and every token issued for it."""
    _print_json(_api("DELETE", f"/api-keys/{key_id}", url=url))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
