"""Foundation benchmark (issue: foundation): demo generation, API lookup by number, line-list paging.

Everything is measured over real HTTP against a real ``kaisen serve`` process on this machine, on the
database this environment is configured for. It resets the demo tenants: run it on a throwaway
``KAISEN_DATA_DIR`` / database (``scripts/bench.sh`` does).
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx
from django.conf import settings
from django.db import connection

from kaisen.demo import TENANTS, USERS, demo_create
from kaisen.lines.models import Line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _timed(fn: Any, repeat: int = 5) -> float:
    """Median wall time of ``repeat`` calls, in ms."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return _ms(statistics.median(times))


def start_server(port: int, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `kaisen serve --port PORT ARGS...` and wait until it answers (60 s at most)."""
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "kaisen.cli", "serve", "--port", str(port), *args],
        env=env if env is not None else os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2)
            return proc
        except httpx.HTTPError as exc:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"kaisen serve exited: {err}") from exc
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("kaisen serve did not start within 60 s")


def _web_login(client: httpx.Client, operator_id: str, username: str, password: str) -> None:
    client.get("/login/")
    csrf = client.cookies.get("csrftoken")
    if not csrf:
        raise RuntimeError("the login page set no CSRF cookie")
    resp = client.post("/login/", data={"csrfmiddlewaretoken": csrf, "operator_id": operator_id,
                                        "username": username, "password": password},
                       headers={"Referer": str(client.base_url) + "/login/"})
    if resp.status_code not in (302, 303):
        raise RuntimeError(f"web login failed with HTTP {resp.status_code}")


def run_foundation_bench(*, lines: int, lookups: int) -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    figures: dict[str, Any] = {
        "database": connection.vendor,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "lines": lines,
    }
    if connection.vendor == "sqlite":
        import sqlite3

        figures["database_version"] = f"SQLite {sqlite3.sqlite_version}"
    else:
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            figures["database_version"] = f"PostgreSQL {cur.fetchone()[0]}"

    t0 = time.perf_counter()
    result = demo_create(lines=lines, reset=True)
    figures["demo_generation_s"] = round(time.perf_counter() - t0, 1)

    big = TENANTS[0]["public_id"]
    creds = result.tenants[0]["users"][0]
    assert creds["username"] == USERS[0]["username"]
    figures["tenant_lines"] = Line.objects.filter(tenant__public_id=big).count()
    numbers = list(
        Line.objects.filter(tenant__public_id=big, msisdn__isnull=False)
        .order_by("?").values_list("msisdn", flat=True)[:lookups]
    )
    connection.close()

    port = free_port()
    proc = start_server(port, "--no-worker", "--threads", "4")
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/api/v1/auth", json={"operator_id": big, "username": creds["username"],
                                                      "password": creds["password"]}).json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            for n in numbers[:200]:  # warm up connections and caches
                client.get(f"/api/v1/lines/by-msisdn/{n}")
            latencies = []
            for n in numbers:
                t = time.perf_counter()
                resp = client.get(f"/api/v1/lines/by-msisdn/{n}")
                latencies.append(time.perf_counter() - t)
                if resp.status_code != 200:
                    raise RuntimeError(f"lookup of {n} answered {resp.status_code}: {resp.text[:200]}")
            figures["lookup_by_msisdn"] = {
                "requests": len(latencies), "p50_ms": _ms(_pct(latencies, 50)), "p99_ms": _ms(_pct(latencies, 99)),
                "max_ms": _ms(max(latencies)),
            }

            # API line list: 50 lines a page, default sort (phone number). Walk to page 1,000 by cursor.
            cursors: dict[int, str | None] = {1: None}
            cursor = None
            for page_no in range(1, 1000):
                params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
                body = client.get("/api/v1/lines", params=params).json()
                cursor = body["next_cursor"]
                if cursor is None:
                    break
                cursors[page_no + 1] = cursor
            api_pages = {}
            for page_no in (1, 10, 100, 1000):
                if page_no in cursors:
                    c = cursors[page_no]
                    params = {"limit": 50, **({"cursor": c} if c else {})}
                    api_pages[f"page_{page_no}_ms"] = _timed(lambda p=params: client.get("/api/v1/lines", params=p))
            figures["api_line_list"] = api_pages
            figures["api_line_count_ms"] = _timed(lambda: client.get("/api/v1/lines",
                                                                     params={"limit": 50, "with_count": "true"}))

        # The web page (HTML, with the total count and filters), same cursors.
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as web:
            _web_login(web, big, creds["username"], creds["password"])
            web_pages = {}
            for page_no in (1, 10, 100, 1000):
                if page_no in cursors:
                    c = cursors[page_no]
                    params = {"size": 50, **({"cursor": c} if c else {})}

                    def get(p: dict[str, Any] = params) -> None:
                        r = web.get("/lines/", params=p)
                        if r.status_code != 200:
                            raise RuntimeError(f"/lines/ answered {r.status_code}")

                    web_pages[f"page_{page_no}_ms"] = _timed(get)
            figures["web_line_list"] = web_pages
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    figures["data_dir"] = str(settings.DATA_DIR)
    return figures
