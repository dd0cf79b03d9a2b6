"""Bearer tokens: one query, then a short-lived per-process cache that a revoke clears (issue 11 §2).

A revoke in this process (API, web, service) clears the cache at once; a revoke written by another process
(here: straight to the database) is seen within KAISEN_API_TOKEN_CACHE_SECONDS."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kaisen.accounts.models import ApiToken
from kaisen.accounts.services import api_key_create, api_key_revoke, token_issue_for_api_key
from kaisen.core import clock
from tests.conftest import ApiClient, TenantWorld

pytestmark = pytest.mark.django_db


def _token_queries(client: ApiClient) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/me").status_code == 200
    return sum(1 for q in ctx.captured_queries if "accounts_apitoken" in q["sql"])


def test_a_checked_token_is_read_once_then_cached(tenant_a: TenantWorld, settings: Any) -> None:
    settings.KAISEN_API_TOKEN_CACHE_SECONDS = 5
    client = tenant_a.api()
    assert _token_queries(client) == 1  # one query: token, user, tenant and key together
    assert _token_queries(client) == 0
    settings.KAISEN_API_TOKEN_CACHE_SECONDS = 0  # the cache off: every request reads the token
    assert _token_queries(client) == 1
    assert _token_queries(client) == 1


def test_revoke_by_another_process_stops_the_token_within_seconds(tenant_a: TenantWorld, settings: Any) -> None:
    settings.KAISEN_API_TOKEN_CACHE_SECONDS = 5
    client = tenant_a.api()
    assert client.get("/api/v1/me").status_code == 200
    start = clock.now()
    # Another process revokes the token: nothing tells this process's cache.
    assert ApiToken.objects.filter(revoked_at__isnull=True).update(revoked_at=start) >= 1
    with time_machine.travel(start + dt.timedelta(seconds=4), tick=False):
        assert client.get("/api/v1/me").status_code == 200  # still trusted from the cache
    with time_machine.travel(start + dt.timedelta(seconds=5.01), tick=False):
        response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.json()["code"] == "TOKEN_INVALID"


def test_revoke_in_this_process_stops_the_token_at_once(tenant_a: TenantWorld, settings: Any) -> None:
    settings.KAISEN_API_TOKEN_CACHE_SECONDS = 3600  # even with a long cache
    client = tenant_a.api()
    assert client.get("/api/v1/me").status_code == 200
    assert client.delete("/api/v1/auth").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_revoking_the_api_key_stops_its_tokens_at_once(tenant_a: TenantWorld, settings: Any) -> None:
    settings.KAISEN_API_TOKEN_CACHE_SECONDS = 3600
    new = api_key_create(user=tenant_a.user, name="robot")
    client = ApiClient(token_issue_for_api_key(key_id=new.api_key.key_id, secret=new.secret).token, Client())
    assert client.get("/api/v1/me").status_code == 200
    api_key_revoke(user=tenant_a.user, key_id=new.api_key.key_id)
    assert client.get("/api/v1/me").status_code == 401


def test_cached_token_never_outlives_its_expiry(tenant_a: TenantWorld, settings: Any) -> None:
    settings.KAISEN_API_TOKEN_CACHE_SECONDS = 3600
    client = tenant_a.api()
    assert client.get("/api/v1/me").status_code == 200
    expires = ApiToken.objects.get(revoked_at__isnull=True, user=tenant_a.user).expires_at
    with time_machine.travel(expires + dt.timedelta(seconds=1), tick=False):
        assert client.get("/api/v1/me").status_code == 401
