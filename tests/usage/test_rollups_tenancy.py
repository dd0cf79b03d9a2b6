"""T-2 for the rollups (issue 10 §4): the usage summary, the provisional bill and the per-number charges read
``UsageRollup`` — never another tenant's rows, on the API and the web pages."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client

from kaisen.core import clock
from kaisen.usage.ingest import usage_file_import
from kaisen.usage.models import UsageRollup
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db
HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"


def test_another_tenants_rollups_are_never_shown(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    # Calls of this month that have already started, whatever the clock says (usage from the future is refused).
    now = clock.now_jst().replace(microsecond=0)
    month_start = now.replace(day=1, hour=0, minute=0, second=0)
    base = max(now - dt.timedelta(hours=1), month_start)
    day = base.date()
    rows = "".join(f"TR{i},{tenant_a.line.msisdn},{base + dt.timedelta(seconds=i):%Y-%m-%d %H:%M:%S}.0,300,"
                   "0312345678,東京,,0,1,,voice\n" for i in range(3))
    usage_file_import(fileobj=io.BytesIO((HEADER + rows).encode()), name="tenancy.csv")
    assert UsageRollup.objects.filter(tenant=tenant_a.tenant).exists()
    assert not UsageRollup.objects.filter(tenant=tenant_b.tenant).exists()
    month = f"{day:%Y-%m}"
    mine = tenant_a.api().get("/api/v1/usage/summary", {"month": month}).json()
    theirs = tenant_b.api().get("/api/v1/usage/summary", {"month": month}).json()
    assert (mine["calls"], mine["lines_with_calls"]) == (3, 1)
    assert (theirs["calls"], theirs["lines_with_calls"]) == (0, 0)
    current_a = tenant_a.api().get("/api/v1/bills/current").json()
    current_b = tenant_b.api().get("/api/v1/bills/current").json()
    assert sum(float(d["amount"]) for d in current_a["days"]) > 0
    assert all(float(d["amount"]) == 0 for d in current_b["days"])
    # The web pages of the other tenant show none of it either.
    for world, calls in ((tenant_a, 3), (tenant_b, 0)):
        client = Client()
        client.force_login(world.user)
        page = client.get("/usage/", {"month": month})
        assert page.status_code == 200 and page.context["summary"].calls == calls
        current = client.get("/billing/current/")
        assert current.status_code == 200
