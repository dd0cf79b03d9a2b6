"""The order engine in one process, one transaction per order against ``KAISEN_ORDER_BATCH``-style batches of
20, back to back on the same data each round, with the no-op and one-row-write transaction rates of the same
process measured in the same round (issue 11 §1). No worker processes: the engine's own cost, without the
start-up and the polling of ``scripts/bench_orders_workers.py``. Run on a throwaway PostgreSQL database with demo
data (``kaisen demo --lines 3000``):

    DATABASE_URL=postgres://.../kaisen_bench_scale KAISEN_DATA_DIR=... KAISEN_RECEPTION_HOURS=00:00-23:59 \\
        .venv/bin/python scripts/bench_orders_engine.py --orders 40 --rounds 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
os.environ.update(KAISEN_CARRIER_DELAY="0", KAISEN_CARRIER_FAILURE_RATE="0", KAISEN_CARRIER_TIMEOUT_RATE="0")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_orders_workers import noop_rate, submit, write_rate

from kaisen.core import clock
from kaisen.procedures.engine import orders_tick
from kaisen.procedures.models import Order
from kaisen.tenancy.models import Tenant


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    tenant = Tenant.objects.get(public_id=os.environ.get("BENCH_TENANT", "OP0123456789"))
    user = tenant.users.filter(is_root=True).first()
    results: dict[str, list[float]] = {"noop": [], "write": [], "batch1": [], "batch20": []}
    orders_tick(send_mail=False)  # whatever was left due
    for r in range(args.rounds):
        results["noop"].append(noop_rate(1000))
        results["write"].append(write_rate(300))
        for batch in (1, 20):
            ids = submit(tenant, user, args.orders)
            Order.objects.filter(pk__in=ids).update(due_at=clock.now())
            started = time.perf_counter()
            report = orders_tick(limit=10 * args.orders, send_mail=False, batch=batch)
            elapsed = time.perf_counter() - started
            if report.completed < args.orders or report.errors:
                raise SystemExit(f"tick did not apply every order: {report.as_dict()}")
            results[f"batch{batch}"].append(report.completed / elapsed)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results.items()), flush=True)
    for key, values in results.items():
        print(f"{key}: min {min(values):.1f} median {statistics.median(values):.1f}")
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"orders/s per no-op tx/s: batch 1 {med['batch1'] / med['noop']:.4f}, "
          f"batch 20 {med['batch20'] / med['noop']:.4f}; "
          f"batch 20 / batch 1 {med['batch20'] / med['batch1']:.2f}; "
          f"per one-row-write tx/s: batch 20 {med['batch20'] / med['write']:.3f}")


if __name__ == "__main__":
    main()
