"""The commands that run the portal on this machine: ``kaisen serve``, ``worker``, ``migrate``, ``demo`` and
``manage``. They load Django in this process and work on the database of ``DATABASE_URL`` /
``KAISEN_DATA_DIR``; ``kaisen/cli.py`` lists them in their own help panel, apart from the customer commands.
"""

from __future__ import annotations

import os
import threading
from typing import Annotated, Any

import typer

from kaisen.core.cli import django_setup, print_json


def _pending_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


def _files_problem() -> str | None:
    """What keeps the stored files (statements, usage archives) from working, or None (kaisen.core.files)."""
    from kaisen.core import files

    for alias in (files.STATEMENTS, files.USAGE_ARCHIVE):
        problem = files.check(alias)
        if problem:
            return f"The file storage ({alias}) cannot be used: {problem}. See KAISEN_STORAGE in docs/deployment.md."
    return None


def start_worker_thread(*, interval: float = 1.0) -> tuple[threading.Thread, Any]:
    """Run the django-tasks database worker in a daemon thread of this process."""
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(queue_names=["*"], interval=interval, batch=False, backend_name="default",
                    startup_delay=False, max_tasks=None, worker_id=f"serve-{os.getpid()}", excluded_queue_names=[])
    thread = threading.Thread(target=worker.run, name="kaisen-task-worker", daemon=True)
    thread.start()
    return thread, worker


def _metrics_dir(port: int) -> str:
    """A fresh directory for the web processes' shared Prometheus metrics (prometheus_client's multiprocess
    mode). It must be set before prometheus_client is first imported, so before Django is set up."""
    import tempfile

    return tempfile.mkdtemp(prefix=f"kaisen-metrics-{port}-")


def _start_worker_process() -> Any:
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "kaisen.cli", "worker"])


def _run_gunicorn(*, host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    from gunicorn.app.base import BaseApplication

    def child_exit(server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class KaisenGunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
                "graceful_timeout": timeout, "timeout": max(timeout, 60), "keepalive": 5, "preload_app": False,
                "proc_name": "kaisen-web", "child_exit": child_exit, "accesslog": None,
                "max_requests": 0, "forwarded_allow_ips": "127.0.0.1",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from kaisen.wsgi import application

            return application

    KaisenGunicorn().run()


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    threads: Annotated[int, typer.Option(help="Web worker threads (per web process).")] = 8,
    worker: Annotated[bool, typer.Option(help="Run the background task worker and scheduler too.")] = True,
    workers: Annotated[int, typer.Option(
        help="Web processes. 1: one waitress process, with the task worker and scheduler as threads in it. "
             "More: gunicorn with that many processes, and the task worker and scheduler as one "
             "`kaisen worker` process beside them.")] = 1,
    graceful_timeout: Annotated[int, typer.Option(
        help="Seconds a web process gets to finish its requests on SIGTERM.")] = 30,
) -> None:
    """Serve the portal: one waitress process, or gunicorn with several web processes (--workers)."""
    if workers > 1:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _metrics_dir(port))
    django_setup()
    from django.conf import settings

    pending = _pending_migrations()
    if pending:
        typer.echo(f"The database needs migrating ({len(pending)} migrations pending): run `kaisen migrate`.", err=True)
        raise typer.Exit(2)
    if problem := _files_problem():
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    if workers < 1:
        typer.echo("--workers must be 1 or more.", err=True)
        raise typer.Exit(2)
    db = settings.DATABASES["default"]
    where = db["NAME"] if db["ENGINE"].endswith("sqlite3") else f"PostgreSQL {db.get('HOST')}/{db['NAME']}"
    shape = (f"{workers} web processes (gunicorn)" if workers > 1 else "one web process (waitress)")
    typer.echo(f"Kaisen on http://{host}:{port}/  (data: {settings.DATA_DIR}; database: {where}; {shape}; "
               f"task worker and scheduler: {'on' if worker else 'off'})")
    typer.echo(f"Log in at http://{host}:{port}/login/ (operator back office: http://{host}:{port}/admin/)")
    if settings.TRUSTED_PROXIES:
        typer.echo("Trusting X-Forwarded-For / X-Forwarded-Proto from: "
                   + ", ".join(str(n) for n in settings.TRUSTED_PROXIES))
    if workers > 1:
        child = _start_worker_process() if worker else None
        try:
            _run_gunicorn(host=host, port=port, workers=workers, threads=threads, timeout=graceful_timeout)
        finally:
            if child is not None and child.poll() is None:
                import signal

                child.send_signal(signal.SIGTERM)  # it finishes its task and tick, then exits
                try:
                    child.wait(timeout=graceful_timeout)
                except Exception:
                    child.kill()
        return
    import waitress

    from kaisen.wsgi import application

    if worker:
        from kaisen.procedures.worker import start_scheduler_thread

        start_worker_thread()
        start_scheduler_thread(settings.KAISEN_SCHEDULER_INTERVAL)
    # waitress would drop every forwarded header itself (it trusts at most one proxy address, and none by
    # default): kaisen.core.proxy, around the application, trusts exactly KAISEN_TRUSTED_PROXIES and drops
    # those headers from everyone else.
    waitress.serve(application, host=host, port=port, threads=threads, ident="kaisen", _quiet=True,
                   clear_untrusted_proxy_headers=False)


def worker() -> None:
    """Run the background task worker and the order scheduler (without the web server) until stopped.

    Run as many as you like next to `kaisen serve --no-worker`: due orders are picked with row locks.
    """
    django_setup()
    from django.conf import settings

    pending = _pending_migrations()
    if pending:
        typer.echo(f"The database needs migrating ({len(pending)} migrations pending): run `kaisen migrate`.", err=True)
        raise typer.Exit(2)
    if problem := _files_problem():
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    from kaisen.procedures.worker import run_worker

    interval = settings.KAISEN_SCHEDULER_INTERVAL
    run_worker(scheduler_interval=interval, on_ready=lambda: typer.echo(
        f"Kaisen worker {os.getpid()} running: tasks and order scheduler (every {interval:g} s); stop with Ctrl+C",
        err=True))


def migrate() -> None:
    """Create or update the database schema."""
    django_setup()
    from django.core.management import call_command

    pending = _pending_migrations()
    call_command("migrate", interactive=False, verbosity=0)
    typer.echo(f"Database up to date ({len(pending)} migrations applied)." if pending else "Database up to date.")


def demo(
    lines: Annotated[int, typer.Option(help="How many lines to create over the three demo tenants.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 20261122,
    as_json: Annotated[bool, typer.Option("--json", help="Print tenants, users and passwords as JSON.")] = False,
    reset: Annotated[bool, typer.Option(help="Delete the demo tenants first and create them again.")] = False,
) -> None:
    """Create demo data (three companies, their users, N lines). Demo passwords are printed: demo only."""
    django_setup()
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
        print_json(result.as_dict())
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


def manage(ctx: typer.Context) -> None:
    """Run a Django management command, e.g. `kaisen manage check --deploy`."""
    django_setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kaisen manage", *ctx.args])
