"""Orders applied per second by 1 and by 2 `kaisen worker` processes, against the no-op transaction rate of
the same stack from one process (issue 11 §7). Run on a throwaway PostgreSQL database with demo data:

    DATABASE_URL=postgres://.../kaisen_bench_scale KAISEN_DATA_DIR=... KAISEN_RECEPTION_HOURS=00:00-23:59 \\
        .venv/bin/python scripts/bench_orders_workers.py --orders 300 --rounds 2 --batches 1,20

Each round: the no-op rate (BEGIN; SELECT txid_current(); COMMIT from one process), for reference the rate of
transactions that update one row (their commit waits for the WAL flush; the no-op's does not), then for each
``KAISEN_ORDER_BATCH`` of ``--batches`` (1: one transaction per order, as before issue 11's batching) and for 1
and 2 workers back to back: submit N suspend/resume orders through ``order_submit`` (not timed), start the workers
(carrier simulator delay 0, scheduler every 0.2 s), time until every order is final, stop the workers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
import django

django.setup()
from django.db import connection, transaction  # noqa: E402

from kaisen.core import clock  # noqa: E402
from kaisen.lines.models import Line, LineStatus  # noqa: E402
from kaisen.procedures.models import FINAL_STATUSES, Order  # noqa: E402
from kaisen.procedures.services import order_submit  # noqa: E402
from kaisen.tenancy.models import Tenant  # noqa: E402


def noop_rate(n: int = 2000) -> float:
    started = time.perf_counter()
    for _ in range(n):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT txid_current()")
    return n / (time.perf_counter() - started)


def write_rate(n: int = 2000) -> float:
    """For reference: transactions that write one row (so their commit waits for the WAL flush, which the no-op
    transaction's does not: it writes no WAL)."""
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_orders_write (id int PRIMARY KEY, n int)")
        cur.execute("INSERT INTO bench_orders_write VALUES (1, 0) ON CONFLICT DO NOTHING")
    started = time.perf_counter()
    for _ in range(n):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("UPDATE bench_orders_write SET n = n + 1 WHERE id = 1")
    elapsed = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_orders_write")
    return n / elapsed


def submit(tenant: Tenant, user: object, n: int) -> list[int]:
    lines = Line.objects.filter(tenant=tenant, status__in=[LineStatus.ACTIVE, LineStatus.SUSPENDED],
                                mnp_port_in_pending=False).exclude(orders__status__in=["received", "scheduled",
                                                                                       "sent", "unknown"])
    if clock.now_jst().hour < 10:
        lines = lines.exclude(carrier="softbank")
    ids = []
    for line in lines.order_by("id")[:n]:
        kind = "suspend" if line.status == LineStatus.ACTIVE else "resume"
        ids.append(order_submit(tenant=tenant, user=user, line_id=line.pk, kind=kind, params={},
                                idempotency_key=uuid.uuid4().hex).pk)
    if len(ids) < n:
        raise SystemExit(f"only {len(ids)} lines to order on")
    return ids


def applied_rate(ids: list[int], workers: int, batch: int) -> float:
    """The orders were submitted due in a year: start the workers, wait until they run, make every order
    due with one UPDATE, and time until all are final (worker start-up is not timed)."""
    env = {**os.environ, "KAISEN_CARRIER_DELAY": "0", "KAISEN_SCHEDULER_INTERVAL": "0.2",
           "KAISEN_CARRIER_FAILURE_RATE": "0", "KAISEN_CARRIER_TIMEOUT_RATE": "0", "KAISEN_LOG_LEVEL": "WARNING",
           "KAISEN_ORDER_BATCH": str(batch)}
    Order.objects.filter(pk__in=ids).update(due_at=clock.now() + dt.timedelta(days=365))
    procs = [subprocess.Popen([sys.executable, "-m", "kaisen.cli", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(workers)]
    try:
        for p in procs:  # "Kaisen worker N running" on stderr once it runs
            assert p.stderr is not None
            while "running" not in p.stderr.readline():
                pass
        time.sleep(1)
        started = time.perf_counter()
        Order.objects.filter(pk__in=ids).update(due_at=clock.now())
        while Order.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).exists():
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    return len(ids) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batches", default="20", help="KAISEN_ORDER_BATCH values to compare, e.g. 1,20")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    tenant = Tenant.objects.get(public_id=os.environ.get("BENCH_TENANT", "OP0123456789"))
    user = tenant.users.filter(is_root=True).first()
    keys = [f"w{w}b{b}" for b in batches for w in (1, 2)]
    results: dict[str, list[float]] = {"noop": [], "write": [], **{k: [] for k in keys}}
    for r in range(args.rounds):
        results["noop"].append(noop_rate())
        results["write"].append(write_rate())
        for b in batches:
            for w in (1, 2):
                ids = submit(tenant, user, args.orders)
                connection.close()
                results[f"w{w}b{b}"].append(applied_rate(ids, w, b))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results.items()), flush=True)
    for key, values in results.items():
        print(f"{key}: min {min(values):.1f} median {statistics.median(values):.1f}")
    noop = statistics.median(results["noop"])
    for b in batches:
        w1, w2 = (statistics.median(results[f"w{w}b{b}"]) for w in (1, 2))
        print(f"batch {b}: ratio applied(1 worker)/noop {w1 / noop:.3f}; applied(2 workers)/noop {w2 / noop:.3f}; "
              f"2 workers / 1 worker {w2 / w1:.2f}; applied(1 worker)/one-row-write tx "
              f"{w1 / statistics.median(results['write']):.3f}")


if __name__ == "__main__":
    main()
