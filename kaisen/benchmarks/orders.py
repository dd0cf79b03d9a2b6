"""Line-procedures benchmark (issue 3): submit N suspend/resume orders through the API of a real
``kaisen serve`` (with its task worker and scheduler) and measure orders accepted/s and applied/s.

It RESETS the demo tenants of the configured database: run it on a throwaway ``KAISEN_DATA_DIR`` /
database. For the benchmark only, the server runs with ``KAISEN_CARRIER_DELAY=0`` (the simulated carrier
completes at once, so the figure is Kaisen's own throughput) and ``KAISEN_RECEPTION_HOURS=00:00-23:59``
(so it can run at any hour); SoftBank lines are left out before 10:00 JST (their carrier hours).
"""

from __future__ import annotations

import os
import platform
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer


def run_orders_bench(*, orders: int, clients: int = 4, threads: int = 8, timeout: float = 1800) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from kaisen.benchmarks.foundation import free_port, start_server
    from kaisen.core import clock
    from kaisen.demo import TENANTS, demo_create
    from kaisen.lines.models import Line, LineStatus
    from kaisen.notifications.models import OutboxMessage, OutboxStatus
    from kaisen.procedures.models import FINAL_STATUSES, Order, OrderStatus

    call_command("migrate", interactive=False, verbosity=0)
    figures: dict[str, Any] = {"database": connection.vendor, "orders": orders, "clients": clients,
                               "server_threads": threads,
                               "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                          f"Python {platform.python_version()}"}
    result = demo_create(lines=max(3000, int(orders * 4)), reset=True)
    big = TENANTS[0]["public_id"]
    creds = result.tenants[0]["users"][0]
    lines = Line.objects.filter(tenant__public_id=big, status__in=[LineStatus.ACTIVE, LineStatus.SUSPENDED],
                                mnp_port_in_pending=False)
    if clock.now_jst().hour < 10:
        lines = lines.exclude(carrier="softbank")
    picked = list(lines.order_by("id").values_list("id", "status")[:orders])
    if len(picked) < orders:
        raise RuntimeError(f"only {len(picked)} lines to order on; raise the demo size")
    work = [(pk, "suspend" if status == LineStatus.ACTIVE else "resume") for pk, status in picked]
    figures["kinds"] = {k: sum(1 for _, kk in work if kk == k) for k in ("suspend", "resume")}
    connection.close()

    env = {**os.environ, "KAISEN_CARRIER_DELAY": "0", "KAISEN_RECEPTION_HOURS": "00:00-23:59",
           "KAISEN_CARRIER_FAILURE_RATE": "0", "KAISEN_CARRIER_TIMEOUT_RATE": "0",
           "KAISEN_SCHEDULER_INTERVAL": os.environ.get("KAISEN_SCHEDULER_INTERVAL", "1")}
    port = free_port()
    proc = start_server(port, "--threads", str(threads), env=env)
    base = f"http://127.0.0.1:{port}"
    errors: list[str] = []
    try:
        token = httpx.post(f"{base}/api/v1/auth", json={"operator_id": big, "username": creds["username"],
                                                         "password": creds["password"]}, timeout=30).json()["token"]
        chunks = [work[i::clients] for i in range(clients)]

        def submit(chunk: list[tuple[int, str]]) -> None:
            with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
                for line_id, kind in chunk:
                    resp = c.post(f"/api/v1/lines/{line_id}/orders",
                                  json={"kind": kind, "params": {}, "idempotency_key": uuid.uuid4().hex})
                    if resp.status_code != 201:
                        errors.append(f"{resp.status_code} {resp.text[:200]}")

        started = time.perf_counter()
        pool = [threading.Thread(target=submit, args=(chunk,)) for chunk in chunks]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        accepted_s = time.perf_counter() - started
        accepted = orders - len(errors)
        applied_during = Order.objects.filter(tenant__public_id=big, status=OrderStatus.COMPLETED).count()
        deadline = time.monotonic() + timeout
        while Order.objects.filter(tenant__public_id=big).exclude(status__in=FINAL_STATUSES).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("orders not drained in time")
            time.sleep(0.2)
        drained_s = time.perf_counter() - started
        done = Order.objects.filter(tenant__public_id=big)
        figures.update({
            "accepted": accepted, "refused": len(errors), "refusals_sample": errors[:3],
            "accept_seconds": round(accepted_s, 1), "accepted_per_s": round(accepted / accepted_s, 1),
            "completed_while_submitting": applied_during,
            "drained_seconds": round(drained_s, 1), "applied_per_s": round(accepted / drained_s, 1),
            "completed": done.filter(status=OrderStatus.COMPLETED).count(),
            "failed": done.filter(status=OrderStatus.FAILED).count(),
        })
        time.sleep(7)  # the outbox sweep's grace period
        figures["mails_pending_after_drain"] = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count()
        figures["mails_sent"] = OutboxMessage.objects.filter(status=OutboxStatus.SENT).count()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        connection.close()
    return figures


def bench_orders_command(
    orders: Annotated[int, typer.Option(help="Orders to submit through the API.")] = 10_000,
    clients: Annotated[int, typer.Option(help="Concurrent API clients.")] = 4,
    threads: Annotated[int, typer.Option(help="Web threads of the kaisen serve under test.")] = 8,
    out: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file.")] = None,
) -> None:
    """Line-procedures benchmark: N suspend/resume orders through the API, accepted/s and applied/s.

    RESETS the demo tenants of the configured database (DATABASE_URL or KAISEN_DATA_DIR): use a throwaway one.
    """
    import json

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django

    django.setup()
    figures = run_orders_bench(orders=orders, clients=clients, threads=threads)
    text = json.dumps(figures, ensure_ascii=False, indent=2, default=str)
    typer.echo(text)
    if out:
        out.write_text(text)
