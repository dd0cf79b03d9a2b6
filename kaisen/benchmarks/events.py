"""Issue 13 benchmarks (``kaisen bench events``), two paths back to back on the same data in one run, repeated;
min and median reported.

Parts (``--parts``, default both):

* ``alerts`` — ``usage_file_import`` of a generated call file of ``--calls`` records for ``--lines`` lines
  (the usage benchmark's generator: ~5 months of calls, so the current and the previous month are both
  evaluated), with the alert rules against without them. "With": the alerts app's after-import hook and
  three rules of the benchmark tenant — call charges over ¥1,000 (mail + webhook), international charges
  over ¥500 (mail + webhook), no traffic for 7 days (mail; evaluated by the scheduler's job, not by the
  import: timed once on its own, ``no_traffic_job_s``) — a webhook endpoint subscribed to their event
  (its deliveries are written and enqueued, not sent) and a budget. "Without": the hook unregistered. The
  order of the two alternates between repeats; after each import its records, rollups, firings, events,
  deliveries, mails and tasks are deleted (not timed). Ratio = with / without (target ≤ 1.2).
* ``webhooks`` — ``--deliveries`` events written in one transaction for an endpoint on a real HTTP
  receiver on 127.0.0.1 (``kaisen.benchmarks.receiver``: a threaded ``http.server`` in a process of its
  own), sent by ``--workers`` ``kaisen worker`` processes (0: in this process, the test's tiny size); the
  time from the commit until every delivery has succeeded. Beside it the bare path: as many POSTs of a
  webhook-sized body from ``--workers`` plain httpx processes (keep-alive, no database). Rate = deliveries
  per second (target ≥ 200 from 2 workers); ratio = ours / bare.

It uses the usage benchmark's tenant ``OP9000000001`` and removes its lines and data at the end; run it on a
throwaway database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

PARTS = ("alerts", "webhooks")


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3)}


def _progress(fig: dict[str, Any], part: str) -> None:
    typer.echo(json.dumps({part: fig.get(part)}, default=str), err=True)


def _bench_rules(tenant: Any) -> tuple[list[Any], Any]:
    from kaisen.alerts.models import AlertRule, Budget
    from kaisen.core import clock
    from kaisen.core.calendar import add_months
    from kaisen.events.models import WebhookEndpoint

    # What an interrupted run left behind would fire twice.
    AlertRule.objects.filter(tenant=tenant).delete()
    WebhookEndpoint.objects.filter(tenant=tenant).delete()
    rules = [AlertRule.objects.create(tenant=tenant, name=name, scope="all", condition=condition,
                                      threshold=threshold, actions=actions)
             for name, condition, threshold, actions in (
                 ("bench calls", "calls_month_yen", 1000, ["mail", "webhook"]),
                 ("bench international", "intl_month_yen", 500, ["mail", "webhook"]),
                 ("bench quiet", "no_traffic_days", 7, ["mail"]))]
    # Made before the previous month: both months an import carries are watched.
    made = dt.datetime.combine(add_months(clock.today_jst(), -3), dt.time(9), tzinfo=clock.JST)
    AlertRule.objects.filter(pk__in=[r.pk for r in rules]).update(created_at=made)
    endpoint = WebhookEndpoint.objects.create(tenant=tenant, url="http://127.0.0.1:9/bench", secret="whsec_" + "A" * 32,
                                              event_types=["usage_alert.fired"])
    Budget.objects.update_or_create(tenant=tenant, coverage="japan", defaults={"amount": 10**11})
    return rules, endpoint


def _clear_alert_output(tenant: Any) -> dict[str, int]:
    """What firing left (not timed): firings, events, deliveries, mails, enqueued tasks. Returns counts."""
    from django_tasks_db.models import DBTaskResult

    from kaisen.alerts.models import AlertFiring
    from kaisen.events.models import Delivery, Event
    from kaisen.notifications.models import OutboxMessage

    counts = {"firings": AlertFiring.objects.filter(tenant=tenant).count(),
              "events": Event.objects.filter(tenant=tenant).count(),
              "deliveries": Delivery.objects.filter(tenant=tenant).count()}
    AlertFiring.objects.filter(tenant=tenant).delete()
    Delivery.objects.filter(tenant=tenant).delete()
    Event.objects.filter(tenant=tenant).delete()
    OutboxMessage.objects.filter(tenant=tenant).delete()
    DBTaskResult.objects.filter(task_path__startswith="kaisen.events.tasks.").delete()
    return counts


def _part_alerts(calls: int, lines: int, repeats: int, fig: dict[str, Any]) -> None:
    from kaisen.alerts.evaluate import after_usage_import, rules_evaluate
    from kaisen.alerts.models import AlertRule, Budget, Condition
    from kaisen.benchmarks.scale import _analyze
    from kaisen.benchmarks.usage import _bench_lines, _cleanup, write_call_file
    from kaisen.events.models import WebhookEndpoint
    from kaisen.usage import hooks
    from kaisen.usage.ingest import usage_file_import_path
    from kaisen.usage.models import CallRecord, UnmatchedCall, UsageDayTotal, UsageFile, UsageRollup, UsageRowError

    registered = dict(hooks.after_import._providers)

    def hook(on: bool) -> None:
        hooks.after_import._providers.clear()
        hooks.after_import._providers.update(registered)
        if not on:
            hooks.after_import._providers.pop("alerts", None)

    t = time.perf_counter()
    tenant, numbers = _bench_lines(lines)
    setup = time.perf_counter() - t
    rules, endpoint = _bench_rules(tenant)
    times: dict[bool, list[float]] = {True: [], False: []}
    ratios: list[float] = []
    fired: dict[str, int] = {}
    loaded = 0
    try:
        with tempfile.TemporaryDirectory(prefix="kaisen-bench-events-") as tmp:
            path = Path(tmp) / "calls.csv"
            t = time.perf_counter()
            write_call_file(path, numbers, calls)
            generate = time.perf_counter() - t
            for i in range(repeats):
                pair = {}
                for on in ((True, False) if i % 2 else (False, True)):
                    hook(on)
                    t = time.perf_counter()
                    result = usage_file_import_path(path=path, kind="calls", imported_by="kaisen bench events")
                    pair[on] = time.perf_counter() - t
                    hook(True)
                    f = result.file
                    loaded = f.rows_loaded
                    if on:
                        fired = _clear_alert_output(tenant)
                        if not fired["firings"]:
                            raise RuntimeError("the rules fired nothing: the benchmark would measure nothing")
                    UnmatchedCall.objects.filter(source_file=f).delete()
                    UsageRowError.objects.filter(source_file=f).delete()
                    CallRecord.objects.filter(source_file=f).delete()
                    UsageRollup.objects.filter(tenant=tenant).delete()
                    UsageDayTotal.objects.filter(tenant=tenant).delete()
                    UsageFile.objects.filter(pk=f.pk).delete()
                    _analyze()
                    times[on].append(pair[on])
                ratios.append(pair[True] / pair[False])
            # The hook alone, once more on the last import's data (not in the ratio): where the time goes.
            result = usage_file_import_path(path=path, kind="calls", imported_by="kaisen bench events")
            _clear_alert_output(tenant)
            t = time.perf_counter()
            after_usage_import(result.file)
            hook_s = time.perf_counter() - t
            _clear_alert_output(tenant)
            # The scheduler's "no traffic" job (not part of an import) once on the same data: its cost and firings.
            t = time.perf_counter()
            rules_evaluate(kinds=frozenset({Condition.NO_TRAFFIC_DAYS}), tenant_id=tenant.pk)
            quiet_s = time.perf_counter() - t
            quiet = _clear_alert_output(tenant)
            f = result.file
            CallRecord.objects.filter(source_file=f).delete()
            UsageRollup.objects.filter(tenant=tenant).delete()
            UsageDayTotal.objects.filter(tenant=tenant).delete()
            UsageFile.objects.filter(pk=f.pk).delete()
    finally:
        hook(True)
        _clear_alert_output(tenant)
        AlertRule.objects.filter(pk__in=[r.pk for r in rules]).delete()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
        Budget.objects.filter(tenant=tenant).delete()
        _cleanup(tenant)
    fig["alerts"] = {"calls": calls, "lines": lines, "rows_loaded": loaded, "setup_lines_s": round(setup, 1),
                     "generate_file_s": round(generate, 1), "firings_per_import": fired,
                     "import_with_rules_s": _stats(times[True]), "import_without_rules_s": _stats(times[False]),
                     "ratio_with_to_without": _stats(ratios),
                     "pairs": [{"with_s": round(w, 2), "without_s": round(wo, 2), "ratio": round(r, 3)}
                               for w, wo, r in zip(times[True], times[False], ratios, strict=True)],
                     "hook_alone_s": round(hook_s, 3),
                     "no_traffic_job_s": round(quiet_s, 3), "no_traffic_job_firings": quiet["firings"]}


def _start_receiver() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "kaisen.benchmarks.receiver", "serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/hook"


def _stop_receiver(proc: subprocess.Popen[str]) -> int:
    out, _err = proc.communicate(timeout=30)
    return int(out.strip() or 0)


def _start_workers(n: int, logdir: Path) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "KAISEN_WEBHOOK_ALLOW_PRIVATE": "1"}
    procs = []
    logs = []
    for i in range(n):
        log = logdir / f"worker-{i}.log"
        with log.open("w") as fh:
            procs.append(subprocess.Popen([sys.executable, "-m", "kaisen.cli", "worker"], env=env,
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fh, text=True))
        logs.append(log)
    deadline = time.monotonic() + 120
    for proc, log in zip(procs, logs, strict=True):
        while "running" not in log.read_text():
            if proc.poll() is not None:
                raise RuntimeError(f"a kaisen worker stopped before it was ready: {log.read_text()[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("a kaisen worker was not ready within 120 s")
            time.sleep(0.1)
    return procs


def _stop_workers(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bare(url: str, n: int, workers: int) -> float:
    """``workers`` plain httpx processes posting n requests in all; seconds until the last is done."""
    share = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "kaisen.benchmarks.receiver", "post", url, str(k)],  # noqa: S603
                              stdout=subprocess.PIPE, text=True) for k in share if k]
    for proc in procs:
        proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError("the bare sender failed")
    return time.perf_counter() - started


def _send_round(tenant: Any, endpoint: Any, n: int, workers: int, timeout: float) -> float:
    """n events written in one transaction; seconds from their commit until every delivery succeeded."""
    from django.db import transaction
    from django.test.utils import override_settings

    from kaisen.events import catalogue
    from kaisen.events.models import Delivery, DeliveryStatus
    from kaisen.events.services import events_emit
    from kaisen.events.tasks import BATCH, webhook_deliver_batch_task

    items: list[tuple[int | None, dict[str, Any]]] = [
        (None, {"key_id": f"BENCH{i:07d}", "name": "bench", "user": "bench"}) for i in range(n)]
    with transaction.atomic():
        events_emit(tenant_id=tenant.pk, type=catalogue.APIKEY_CREATED, items=items)
    started = time.perf_counter()  # the commit enqueued the tasks
    pending = Delivery.objects.filter(endpoint=endpoint).exclude(status=DeliveryStatus.SUCCEEDED)
    if workers == 0:  # in this process, the batches a worker would run (the tests' tiny size)
        ids = list(pending.order_by("id").values_list("pk", flat=True))
        with override_settings(KAISEN_WEBHOOK_ALLOW_PRIVATE=True):
            for i in range(0, len(ids), BATCH):
                webhook_deliver_batch_task.call(delivery_ids=ids[i:i + BATCH])
    while pending.exists():
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{pending.count()} of {n} deliveries not done after {timeout:.0f} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def _part_webhooks(n: int, workers: int, repeats: int, fig: dict[str, Any]) -> None:
    from django_tasks_db.models import DBTaskResult

    from kaisen.benchmarks.usage import BENCH_TENANT
    from kaisen.events.models import DeliveryAttempt, Event, WebhookEndpoint
    from kaisen.tenancy.models import Tenant
    from kaisen.tenancy.services import tenant_create

    tenant = Tenant.objects.filter(public_id=BENCH_TENANT).first() or tenant_create(
        public_id=BENCH_TENANT, legal_name="ベンチマーク株式会社", contract_code="BENCH-1",
        contact_email="bench@example.jp", notification_email="bench@example.jp")
    receiver, url = _start_receiver()
    endpoint = WebhookEndpoint.objects.create(tenant=tenant, url=url, secret="whsec_" + "B" * 32,
                                              event_types=["apikey.created"])
    procs: list[subprocess.Popen[str]] = []
    ours: list[float] = []
    bare: list[float] = []
    received = 0
    try:
        logdir = Path(tempfile.mkdtemp(prefix="kaisen-bench-workers-"))
        procs = _start_workers(workers, logdir)
        for _ in range(repeats):
            ours.append(n / _send_round(tenant, endpoint, n, workers, timeout=max(120.0, n / 20)))
            bare.append(n / _bare(url, n, max(1, workers)))
            DBTaskResult.objects.filter(task_path__startswith="kaisen.events.tasks.").delete()
    finally:
        _stop_workers(procs)
        received = _stop_receiver(receiver)
        attempts = DeliveryAttempt.objects.filter(tenant=tenant).count()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()  # its deliveries and attempts with it
        Event.objects.filter(tenant=tenant).delete()
        DBTaskResult.objects.filter(task_path__startswith="kaisen.events.tasks.").delete()
    fig["webhooks"] = {"deliveries_per_round": n, "workers": workers, "receiver_requests": received,
                       "attempts_recorded": attempts,
                       "deliveries_per_s": _stats(ours), "bare_posts_per_s": _stats(bare),
                       "ratio_ours_to_bare": _stats([a / b for a, b in zip(ours, bare, strict=True)])}


def run_events_bench(*, calls: int, lines: int, deliveries: int, workers: int, repeats: int,
                     parts: tuple[str, ...]) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    fig: dict[str, Any] = {"database": connection.vendor, "repeats": repeats, "parts": list(parts),
                           "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                      f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"}
    if "alerts" in parts:
        _part_alerts(calls, lines, repeats, fig)
        _progress(fig, "alerts")
    if "webhooks" in parts:
        _part_webhooks(deliveries, workers, repeats, fig)
        _progress(fig, "webhooks")
    fig["load_after"] = round(os.getloadavg()[0], 1)
    return fig


def bench_events_command(
    calls: Annotated[int, typer.Option(help="Call records of the alerts part's file.")] = 1_000_000,
    lines: Annotated[int, typer.Option(help="Lines of the alerts part.")] = 100_000,
    deliveries: Annotated[int, typer.Option(help="Webhook deliveries per round of the webhooks part.")] = 5_000,
    workers: Annotated[int, typer.Option(help="'kaisen worker' processes sending them (0: in this process).")] = 2,
    repeats: Annotated[int, typer.Option(help="Repeats of each pair of paths.")] = 3,
    parts: Annotated[str, typer.Option(help="Comma-separated: alerts, webhooks.")] = ",".join(PARTS),
    out: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file.")] = None,
) -> None:
    """Event figures: a usage import with the alert rules against without them, and webhook deliveries per
    second to a receiver on 127.0.0.1 against bare HTTP posts. Min and median of repeated runs.

    Uses the database of this environment (DATABASE_URL or the embedded SQLite under KAISEN_DATA_DIR);
    creates and removes its own data. Run it on a throwaway database.
    """
    from kaisen.core.cli import django_setup, print_json

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    if not chosen or set(chosen) - set(PARTS) or repeats < 1 or workers < 0:
        typer.echo(f"--parts takes {', '.join(PARTS)}; --repeats at least 1; --workers 0 or more.", err=True)
        raise typer.Exit(2)
    django_setup()
    figures = run_events_bench(calls=calls, lines=lines, deliveries=deliveries, workers=workers, repeats=repeats,
                               parts=chosen)
    print_json(figures)
    if out:
        out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str))
