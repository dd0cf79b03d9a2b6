"""100 wrong logins against one account at once from 4 processes (25 each, 8 threads a process) (issue 5 §4).

Runs on the database of the test run, outside the test's own transaction: a file SQLite database under
its own KAISEN_DATA_DIR in the SQLite run, a throwaway PostgreSQL database in the PostgreSQL run. Each
process counts the password checks it really performed (``User.check_password``); the audit log tells
evaluated ("invalid") from refused ("throttled") attempts. Attempts evaluated after the limit must be 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, THREADS = 4, 25

SETUP = textwrap.dedent("""
    import json, os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django
    django.setup()
    from tests.factories import UserFactory
    user = UserFactory(username="target_user")
    print(json.dumps({"operator_id": user.tenant.public_id, "username": user.username}))
""")

ATTACK = textwrap.dedent("""
    import json, os, sys, threading, time
    from concurrent.futures import ThreadPoolExecutor
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django
    django.setup()
    from django.db import connection
    from kaisen.accounts.models import User
    from kaisen.accounts.services import login_check
    from kaisen.core.errors import DomainError
    operator_id, username, start, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    lock = threading.Lock()
    checks = [0]
    original = User.check_password
    def counting(self, raw):
        with lock:
            checks[0] += 1
        return original(self, raw)
    User.check_password = counting
    def attempt(i):
        time.sleep(max(0.0, start - time.time()))
        try:
            login_check(request=None, operator_id=operator_id, username=username, password=f"wrong-{i}")
            return "accepted"
        except DomainError:
            return "refused"
        finally:
            connection.close()
    # At most 8 connections per process: PostgreSQL's default limit of 100 is shared with the rest of the suite.
    with ThreadPoolExecutor(min(threads, 8)) as pool:
        results = list(pool.map(attempt, range(threads)))
    print(json.dumps({"checks": checks[0], "refused": results.count("refused")}))
""")

COUNT = textwrap.dedent("""
    import json, os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django
    django.setup()
    from kaisen.accounts.models import User
    from kaisen.audit.models import AuditEvent
    reasons = {}
    for event in AuditEvent.objects.filter(action="auth.login.web", success=False):
        reason = event.changes.get("reason")
        reasons[reason] = reasons.get(reason, 0) + 1
    user = User.objects.get(username="target_user")
    print(json.dumps({"reasons": reasons, "locked": user.is_locked, "failed": user.failed_login_count,
                      "lock_events": AuditEvent.objects.filter(action="user.lock").count()}))
""")


@pytest.fixture
def shared_db_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAISEN_SECRET_KEY",
                                                             "DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER")}
    env.update({"KAISEN_DATA_DIR": str(tmp_path / "data"), "KAISEN_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT)})
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield env
        return
    import psycopg

    server = url.rsplit("/", 1)[0]
    name = f"kaisen_lockout_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    env["DATABASE_URL"] = f"{server}/{name}"
    try:
        yield env
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _py(env: dict[str, str], script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.wall_clock  # the attacking processes start together at a wall-clock moment
def test_100_parallel_wrong_logins_from_4_processes_evaluate_only_the_limit(shared_db_env: dict[str, str]) -> None:
    env = shared_db_env
    subprocess.run([sys.executable, "manage.py", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    target = _py(env, SETUP)
    limit = int(env.get("KAISEN_LOCKOUT_ACCOUNT_FAILURES", "5"))
    start = time.time() + 4.0   # every process imports Django first, then all threads start together
    procs = [subprocess.Popen([sys.executable, "-c", ATTACK, target["operator_id"], target["username"], str(start),
                               str(THREADS)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(PROCESSES)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    checks = sum(r["checks"] for r in results)
    refused = sum(r["refused"] for r in results)
    counts = _py(env, COUNT)
    print(f"\nLOCKOUT FIGURE: {PROCESSES * THREADS} attempts, {checks} password checks, "
          f"{checks - limit} evaluated after the limit, audit {counts}")
    assert refused == PROCESSES * THREADS
    assert checks == limit, f"{checks - limit} attempts were evaluated after the limit of {limit}"
    assert counts["reasons"] == {"invalid": limit, "throttled": PROCESSES * THREADS - limit}
    assert counts["locked"] and counts["failed"] == limit and counts["lock_events"] == 1
