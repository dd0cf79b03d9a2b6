"""The production topology on one machine without containers (issue 11 §6), under load, with kills.

Debian's nginx in front of 2 web processes (`kaisen serve --no-worker`, waitress), 2 `kaisen worker`
processes, the PostgreSQL of DATABASE_URL (with demo data: `kaisen demo`). From 4 client threads it submits
ORDERS suspend/resume orders through nginx (a 5xx or a dropped connection is retried with the same
idempotency key, as API clients are told to), SIGKILLs one web process and one worker during the load, then
waits until every order is final and checks: 0 orders lost, 0 applied twice at the carrier, no 5xx outside
the kill window (KILL_WINDOW seconds after each kill). Prints the figures; exits 1 if a check fails.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaisen_bench_scale KAISEN_DATA_DIR=/tmp/scale/data \\
        .venv/bin/python scripts/cluster_local.py --orders 200
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

KILL_WINDOW = 3.0
ROOT = Path(__file__).resolve().parents[1]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kaisen.cli", *args], env=env, cwd=ROOT,  # noqa: S603
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--port", type=int, default=8190)
    ap.add_argument("--tenant", default="OP0123456789")
    ap.add_argument("--username", default="kanri_root")
    ap.add_argument("--password", required=True)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kaisen-cluster-"))
    env = {**os.environ, "KAISEN_CARRIER_DELAY": "0", "KAISEN_RECEPTION_HOURS": "00:00-23:59",
           "KAISEN_SCHEDULER_INTERVAL": "0.5", "KAISEN_LOG_LEVEL": "WARNING", "KAISEN_TRUST_X_FORWARDED_FOR": "1",
           "KAISEN_CARRIER_FAILURE_RATE": "0", "KAISEN_CARRIER_TIMEOUT_RATE": "0"}
    webs = [a.port + 1, a.port + 2]
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log; daemon off; worker_processes 1;
events {{ worker_connections 256; }}
http {{
  access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp};
  fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  upstream kaisen {{ server 127.0.0.1:{webs[0]} max_fails=1 fail_timeout=5s;
                     server 127.0.0.1:{webs[1]} max_fails=1 fail_timeout=5s; }}
  server {{ listen 127.0.0.1:{a.port};
    location / {{ proxy_pass http://kaisen; proxy_set_header Host 127.0.0.1;
                 proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Request-ID $request_id;
                 proxy_next_upstream error timeout http_502; }} }}
}}""")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", str(conf), "-p", str(tmp)])  # noqa: S603
    try:
        for i, port in enumerate(webs):
            procs[f"web{i}"] = start(["serve", "--no-worker", "--port", str(port), "--threads", "4"], env,
                                     tmp / f"web{i}.log")
        for i in range(2):
            procs[f"worker{i}"] = start(["worker"], env, tmp / f"worker{i}.log")
        for port in webs:
            wait_http(f"http://127.0.0.1:{port}/healthz")
        base = f"http://127.0.0.1:{a.port}"
        token = httpx.post(f"{base}/api/v1/auth", json={"operator_id": a.tenant, "username": a.username,
                                                         "password": a.password}, timeout=30).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        lines = []
        cursor = ""
        while len(lines) < a.orders:
            page = httpx.get(f"{base}/api/v1/lines", params={"limit": 200, "cursor": cursor} if cursor else
                             {"limit": 200}, headers=headers, timeout=30).json()
            lines += [x for x in page["items"] if x["status"] in ("active", "suspended")
                      and not x.get("mnp_port_in_pending") and x.get("carrier") != "softbank"]
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
        lines = lines[:a.orders]
        log: list[tuple[float, int]] = []
        accepted: dict[int, int] = {}
        kills: list[float] = []
        lock = threading.Lock()

        def client(chunk: list[dict]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                for line in chunk:
                    body = {"kind": "suspend" if line["status"] == "active" else "resume", "params": {},
                            "idempotency_key": uuid.uuid4().hex}
                    for _ in range(20):
                        try:
                            r = c.post(f"/api/v1/lines/{line['id']}/orders", json=body)
                            status = r.status_code
                        except httpx.HTTPError:
                            status = 599  # connection dropped
                        with lock:
                            log.append((time.monotonic(), status))
                        if status < 500:
                            break
                        time.sleep(0.3)
                    if status in (200, 201):
                        with lock:
                            accepted[line["id"]] = r.json()["id"]

        chunks = [lines[i::4] for i in range(4)]
        threads = [threading.Thread(target=client, args=(ch,)) for ch in chunks]
        started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(3)
        kills.append(time.monotonic())
        procs["web0"].send_signal(signal.SIGKILL)
        time.sleep(3)
        kills.append(time.monotonic())
        procs["worker0"].send_signal(signal.SIGKILL)
        for t in threads:
            t.join()
        submit_s = time.monotonic() - started
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
        import django

        django.setup()
        from django.db.models import Count, Q

        from kaisen.carriers.models import SimulatedCarrierRequest
        from kaisen.procedures.models import FINAL_STATUSES, Order

        ids = list(accepted.values())
        deadline = time.monotonic() + 300
        while Order.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        orders = Order.objects.filter(pk__in=ids).annotate(
            completions=Count("events", filter=Q(events__to_status="completed")))
        refs = {r.order_ref: r for r in SimulatedCarrierRequest.objects.filter(
            order_ref__in=[f"KSN-{i}" for i in ids])}
        lost = len(lines) - len(accepted) + sum(1 for o in orders if o.status != "completed")
        twice = sum(1 for o in orders if o.completions != 1 or refs[f"KSN-{o.pk}"].applied_count != 1)
        in_window = [s for t, s in log if s >= 500 and any(k <= t <= k + KILL_WINDOW for k in kills)]
        outside = [s for t, s in log if s >= 500 and not any(k <= t <= k + KILL_WINDOW for k in kills)]
        result = {"orders": len(lines), "accepted": len(accepted), "completed": orders.filter(
            status="completed").count(), "lost": lost, "applied_twice": twice, "requests": len(log),
            "5xx_in_kill_windows": len(in_window), "5xx_outside": len(outside), "submit_seconds": round(submit_s, 1)}
        print(json.dumps(result))
        return 0 if lost == 0 and twice == 0 and not outside else 1
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
