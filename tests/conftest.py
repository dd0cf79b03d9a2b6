from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.test import Client

from kaisen.accounts.models import ApiKey, User
from kaisen.accounts.services import api_key_create, token_issue_for_api_key
from kaisen.core.clock import JST
from kaisen.lines.models import Line
from kaisen.tenancy.models import Tenant
from tests.factories import PASSWORD, LineFactory, TenantFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Test database names get a suffix from ``KAISEN_TEST_DB_SUFFIX`` (scripts/test.sh: one per checkout),
    on top of pytest-django's per-xdist-worker suffix, so two clones testing on one PostgreSQL never collide."""
    from django.conf import settings

    suffix = os.environ.get("KAISEN_TEST_DB_SUFFIX", "")
    if not suffix:
        return
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return
    test = db.setdefault("TEST", {})
    test["NAME"] = f"{test.get('NAME') or 'test_' + str(db['NAME'])}_{suffix}"


@dataclass
class TenantWorld:
    """One tenant with a user, an API key, a bearer token and a few lines."""

    tenant: Tenant
    user: User
    api_key: ApiKey
    api_secret: str
    token: str
    lines: list[Line]

    @property
    def line(self) -> Line:
        return self.lines[0]

    def api(self, client: Client | None = None) -> ApiClient:
        return ApiClient(self.token, client or Client())

    def api_now(self, client: Client | None = None) -> ApiClient:
        """A client with a token issued now: for a test that moved its clock past the fixture's token."""
        issued = token_issue_for_api_key(key_id=self.api_key.key_id, secret=self.api_secret)
        return ApiClient(issued.token, client or Client())


class ApiClient:
    """Django's test client with ``Authorization: Bearer``."""

    def __init__(self, token: str | None, client: Client) -> None:
        self.token = token
        self.client = client

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, data: dict | None = None) -> Any:
        return self.client.get(path, data, headers=self._headers())

    def post(self, path: str, data: dict | None = None) -> Any:
        return self.client.post(path, data or {}, content_type="application/json", headers=self._headers())

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self._headers())

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        send = getattr(self.client, method.lower())
        if method.upper() in ("GET", "HEAD", "OPTIONS"):
            return send(path, headers=self._headers())
        return send(path, body if body is not None else {}, content_type="application/json",
                    headers=self._headers())


def make_world(n_lines: int = 3) -> TenantWorld:
    tenant = TenantFactory()
    user = UserFactory(tenant=tenant, is_root=True)
    lines = LineFactory.create_batch(n_lines, tenant=tenant)
    new_key = api_key_create(user=user, name="automation")
    issued = token_issue_for_api_key(key_id=new_key.api_key.key_id, secret=new_key.secret)
    return TenantWorld(tenant=tenant, user=user, api_key=new_key.api_key, api_secret=new_key.secret,
                       token=issued.token, lines=lines)


@pytest.fixture
def tenant_a(db: None) -> TenantWorld:
    return make_world()


@pytest.fixture
def tenant_b(db: None) -> TenantWorld:
    return make_world()


@pytest.fixture
def password() -> str:
    return PASSWORD


#: The moment every test starts at, unless it moves the clock itself (Japan time). ``KAISEN_TEST_NOW`` (ISO 8601;
#: Japan time when it has no offset) moves it: scripts/test.sh runs the date-sensitive tests again under
#: several such clocks (tests/clocks.py), so a test that only passes on some days fails on the commit that
#: plants it. A test never reads the real date.
DEFAULT_TEST_NOW = "2026-12-07T10:00:00+09:00"


def start_now() -> dt.datetime:
    value = dt.datetime.fromisoformat(os.environ.get("KAISEN_TEST_NOW") or DEFAULT_TEST_NOW)
    return value if value.tzinfo else value.replace(tzinfo=JST)


@pytest.fixture(autouse=True)
def _frozen_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs on an injected clock that starts at ``start_now()`` and ticks on from there (so timeouts
    and polling loops still advance). Tests that need another moment nest their own ``time_machine.travel``.

    ``@pytest.mark.wall_clock``: the test meets other processes at a wall-clock moment (they cannot share an
    injected clock) and reads no business date; it keeps the real clock."""
    if request.node.get_closest_marker("wall_clock"):
        yield
        return
    with time_machine.travel(start_now(), tick=True):
        yield


@pytest.fixture(autouse=True)
def _token_cache_per_test() -> Iterator[None]:
    """Bearer tokens checked by one test are not trusted from the cache by the next (issue 11 §2)."""
    from kaisen.accounts.services import token_cache_clear

    token_cache_clear()
    yield
    token_cache_clear()


@pytest.fixture(autouse=True)
def _audit_append_only_flush(request: pytest.FixtureRequest) -> Any:
    """The audit table is append-only in the database (kaisen/audit/db.py). A transactional test ends with
    a table flush, which on SQLite is a DELETE the trigger refuses (PostgreSQL flushes with TRUNCATE, which
    row triggers do not see): lift the guard just for that flush; post_migrate (emitted by the flush)
    installs it again."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server"))
    if not transactional:
        yield
        return
    blocker = request.getfixturevalue("django_db_blocker")
    request.getfixturevalue("_django_db_helper")  # set up first, so its flush runs after this teardown
    yield
    from django.db import connection

    from kaisen.audit import db

    if connection.vendor == "sqlite":
        with blocker.unblock():
            db.remove(connection)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password check actually performed (the username of the user checked)."""
    seen: list[str] = []
    original = User.check_password

    def counting(self: User, raw: str) -> Any:
        seen.append(self.username)
        return original(self, raw)

    monkeypatch.setattr(User, "check_password", counting)
    return seen


@pytest.fixture(autouse=True)
def _controls_snapshot_cleared() -> Iterator[None]:
    """The operator controls' per-process snapshot (kaisen.controls.cache) must not outlive a test's rolled-back
    database: a test starts and ends with none."""
    from kaisen.controls import cache

    cache.clear()
    yield
    cache.clear()
