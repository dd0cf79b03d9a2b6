"""`kaisen serve --workers 2`: gunicorn with two web processes, their metrics added up, a clean stop on
SIGTERM (issue 11 §3, §5). A real server process on a throwaway SQLite data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.wall_clock
def test_serve_with_two_gunicorn_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(KAISEN_DATA_DIR=str(tmp_path / "data"), KAISEN_LOG_LEVEL="WARNING")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "-m", "kaisen.cli", "migrate"], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kaisen.cli", "serve", "--no-worker", "--workers", "2",
                             "--threads", "2", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "kaisen serve did not answer"
            time.sleep(0.5)
        assert httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ok"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(40):
                response = client.get("/healthz", headers={"Connection": "close"})
                assert response.status_code == 200
        # Two gunicorn worker processes under the one we started.
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        pids = {int(p) for p in children}
        assert len(pids) == 2, children
        text = httpx.get(f"{base}/metrics", timeout=10).text
        # The shared directory adds up the processes: every /healthz request above is counted once.
        line = next(ln for ln in text.splitlines()
                    if ln.startswith('kaisen_http_request_duration_seconds_count{method="GET",route="healthz"'))
        assert float(line.rsplit(" ", 1)[1]) >= 41
        assert 'kaisen_orders{state="scheduled"} 0.0' in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
