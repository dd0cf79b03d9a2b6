"""Reception hours changed while servers run (issue 15 §2): long-running processes that read the hours
before the change see the new hours within the controls cache time (``KAISEN_CONTROLS_CACHE_SECONDS``), with no
restart. The change is made by a third process, the operator CLI.

Runs on SQLite (a file database under its own KAISEN_DATA_DIR) and, when DATABASE_URL is set, on a throwaway
PostgreSQL database created and dropped here.
"""

from __future__ import annotations

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
CACHE_SECONDS = 1.0

READER = textwrap.dedent("""
    import os, sys, time
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django
    django.setup()
    from kaisen.core import calendar
    deadline = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < deadline:
        print(f"{time.time():.3f} {calendar.reception_window('').label()} "
              f"{calendar.reception_window('suspend').label()}", flush=True)
        time.sleep(0.1)
""")


@pytest.fixture
def proc_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAISEN_SECRET_KEY",
                                                             "DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER")}
    env.update({"KAISEN_DATA_DIR": str(tmp_path / "data"), "KAISEN_CONTROLS_CACHE_SECONDS": str(CACHE_SECONDS),
                "KAISEN_RECEPTION_HOURS": "09:00-19:59", "KAISEN_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield env
        return
    import psycopg

    server = url.rsplit("/", 1)[0]
    name = f"kaisen_hours_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    env["DATABASE_URL"] = f"{server}/{name}"
    try:
        yield env
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _kaisen(*args: str) -> list[str]:
    return [sys.executable, "-m", "kaisen.cli", *args]


@pytest.mark.wall_clock
def test_hours_changed_by_the_operator_reach_running_processes_without_restart(proc_env: dict[str, str]) -> None:
    subprocess.run(_kaisen("migrate"), env=proc_env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    readers = [subprocess.Popen([sys.executable, "-c", READER, "25"], env=proc_env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        # Both processes are up and read the defaults of the environment before anything changes.
        for reader in readers:
            assert reader.stdout is not None
            first = reader.stdout.readline().split()
            assert first[1:] == ["09:00–19:59", "09:00–19:59"], first
        changed = subprocess.run(_kaisen("--format", "json", "admin", "controls", "hours-set", "*", "08:30",
                                         "20:29"), env=proc_env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert changed.returncode == 0, changed.stderr
        changed_at = time.time()
        for reader in readers:
            out, err = reader.communicate(timeout=60)
            assert reader.returncode == 0, err[-2000:]
            seen = [line.split() for line in out.splitlines()]
            new = [float(row[0]) for row in seen if row[1] == "08:30–20:29"]
            assert new, "the running process never saw the new hours"
            # Seen within the cache time (plus the reader's 0.1 s step and slack for a loaded machine) ...
            assert new[0] - changed_at <= CACHE_SECONDS + 2.0
            # ... and never the old hours again once seen; the procedure without its own hours follows the default.
            after = [row for row in seen if float(row[0]) >= new[0]]
            assert all(row[1] == "08:30–20:29" and row[2] == "08:30–20:29" for row in after)
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()


CLOSED_READER = textwrap.dedent("""
    import datetime as dt, os, sys, time
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django
    django.setup()
    from kaisen.core import calendar
    day = dt.date.fromisoformat(sys.argv[2])
    deadline = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < deadline:
        print(f"{time.time():.3f} {'open' if calendar.is_business_day(day) else 'closed'}", flush=True)
        time.sleep(0.1)
""")


def _a_business_day_ahead() -> str:
    """A business day (by the environment's defaults) at least two weeks after the real date: the processes
    meet at a wall-clock moment, and the operator CLI refuses to change a day gone by."""
    import datetime as dt

    import holidays

    from kaisen.core.calendar import EnvironmentHours

    day = dt.date.today() + dt.timedelta(days=14)
    while day.weekday() >= 5 or day in holidays.Japan(years=day.year) or EnvironmentHours().is_closed_day(day):
        day += dt.timedelta(days=1)
    return day.isoformat()


@pytest.mark.wall_clock
def test_a_closed_day_added_by_the_operator_reaches_running_processes(proc_env: dict[str, str]) -> None:
    day = _a_business_day_ahead()
    subprocess.run(_kaisen("migrate"), env=proc_env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    readers = [subprocess.Popen([sys.executable, "-c", CLOSED_READER, "25", day], env=proc_env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        for reader in readers:
            assert reader.stdout is not None
            assert reader.stdout.readline().split()[1] == "open"
        changed = subprocess.run(_kaisen("--format", "json", "admin", "controls", "closed-day-add", day),
                                 env=proc_env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert changed.returncode == 0, changed.stderr
        changed_at = time.time()
        for reader in readers:
            out, err = reader.communicate(timeout=60)
            assert reader.returncode == 0, err[-2000:]
            seen = [line.split() for line in out.splitlines()]
            closed = [float(row[0]) for row in seen if row[1] == "closed"]
            assert closed, "the running process never saw the closed day"
            assert closed[0] - changed_at <= CACHE_SECONDS + 2.0
            assert all(row[1] == "closed" for row in seen if float(row[0]) >= closed[0])
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
