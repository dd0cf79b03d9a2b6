"""`kaisen worker` in Redis mode (issue 11 §3): a real worker process with
KAISEN_TASKS_BACKEND=django_tasks_rq.RQBackend runs an RQ worker against the Redis server at 127.0.0.1:6379
(a database of its own, KAISEN_TEST_REDIS_WORKER_URL) and the order scheduler beside it. It applies submitted
orders, runs a Kaisen task enqueued into Redis, and stops cleanly on SIGTERM.

Runs on the database this test run is on (SQLite, or a throwaway PostgreSQL database when DATABASE_URL is set),
like tests/procedures/test_kill_worker.py. Redis is one of the machine's services: when it is down the test
fails and says how to start it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.procedures.test_kill_worker import ROOT, SUBMIT, Db, _kaisen, worker_db  # noqa: F401 (fixture)

REDIS_URL = os.environ.get("KAISEN_TEST_REDIS_WORKER_URL", "redis://127.0.0.1:6379/12")
START_REDIS = ("redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no "
               "--dir /var/lib/redis --logfile /var/log/redis/ci.log")

ENQUEUE = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django
    django.setup()
    from kaisen.procedures.tasks import order_kick
    print(order_kick.enqueue(order_id=int(sys.argv[1])).id)
""")

RESULT = textwrap.dedent("""
    import json, os, sys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django
    django.setup()
    from django_tasks import task_backends
    backend = task_backends["default"]
    result = backend.get_result(sys.argv[1])
    print(json.dumps({"backend": type(backend).__name__, "status": str(result.status),
                      "value": result.return_value if str(result.status).endswith("SUCCESSFUL") else None}))
""")


@pytest.fixture
def redis_db() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"no Redis server at {REDIS_URL} ({exc}); start the machine's Redis with: {START_REDIS}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def _py(env: dict[str, str], script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_kaisen_worker_in_redis_mode_applies_orders_and_runs_tasks_issue_11(worker_db: Db, redis_db: str,  # noqa: F811
                                                                            tmp_path: Path) -> None:
    import redis

    env = {**worker_db.env, "KAISEN_TASKS_BACKEND": "django_tasks_rq.RQBackend", "KAISEN_REDIS_URL": redis_db,
           "KAISEN_CARRIER_TIMEOUT_RATE": "0", "KAISEN_CARRIER_DELAY": "0.3"}
    q = worker_db.query
    subprocess.run(_kaisen("migrate"), env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    ids = json.loads(_py(env, SUBMIT, "0", "4"))
    assert len(ids) == 4
    job_id = _py(env, ENQUEUE, str(ids[0]))  # a Kaisen task, into Redis: nothing in the database's task table
    assert redis.Redis.from_url(redis_db).llen("rq:queue:default") == 1
    assert q("SELECT COUNT(*) FROM django_tasks_database_dbtaskresult")[0][0] == 0

    log = tmp_path / "worker.log"
    with log.open("ab") as fh:
        # A session of its own: RQ forks a scheduler child, which a failed run must not leave behind.
        worker = subprocess.Popen(_kaisen("worker"), env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 120  # liveness on a loaded machine, not a speed limit
        while True:
            left = q("SELECT COUNT(*) FROM procedures_order WHERE status <> 'completed'")[0][0]
            result = json.loads(_py(env, RESULT, job_id)) if left == 0 else {"status": "(not asked yet)"}
            if left == 0 and result["status"].endswith("SUCCESSFUL"):
                break
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{left} orders not applied, task {result}: {log.read_text()[-3000:]}"
            time.sleep(0.5)
        assert result["backend"] == "RQBackend"
        assert redis.Redis.from_url(redis_db).llen("rq:queue:default") == 0
        while f"Kaisen worker {worker.pid} running" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)  # RQ's warm stop, then the scheduler's (its current tick finishes)
        try:
            code = worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not stop within 120 s of SIGTERM: {log.read_text()[-3000:]}")
        assert code == 0, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)  # anything of its session still running (RQ's scheduler child)
    rows = q("""SELECT o.status, o.kind, l.status, r.applied_count FROM procedures_order o
                JOIN lines_line l ON l.id = o.line_id
                JOIN carriers_simulatedcarrierrequest r ON r.order_ref = 'KSN-' || o.id""")
    assert len(rows) == 4
    for status, kind, line_status, applied in rows:
        assert status == "completed" and applied == 1
        assert line_status == ("suspended" if kind == "suspend" else "active")
    assert q("SELECT COUNT(*) FROM django_tasks_database_dbtaskresult")[0][0] == 0
