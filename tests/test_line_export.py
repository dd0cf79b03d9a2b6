"""Issue 14: the line list's filtered lines as CSV — the page's conditions and order, every row (not one
page), another tenant's lines never, a bad condition a 400."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from kaisen.lines.models import Line
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db


def _client(world: TenantWorld) -> Client:
    client = Client()
    client.force_login(world.user)
    return client


def _rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_export_has_the_filtered_lines_in_order(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    Line.objects.filter(pk=tenant_a.lines[1].pk).update(status="suspended")
    response = _client(tenant_a).get("/lines/export.csv?sort=-msisdn&cursor=&size=50")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _rows(response.content)
    assert rows[0][:2] == ["msisdn", "iccid"]
    mine = sorted(((line.msisdn or "") for line in tenant_a.lines), reverse=True)
    assert [r[0] for r in rows[1:]] == mine, "every line, in the list's order"
    other = {line.iccid for line in tenant_b.lines}
    assert not other & {r[1] for r in rows[1:]}
    suspended = _rows(_client(tenant_a).get("/lines/export.csv?status=suspended").content)
    assert [r[1] for r in suspended[1:]] == [tenant_a.lines[1].iccid]
    assert suspended[1][-1] == "suspended"


def test_export_refuses_a_bad_condition(tenant_a: TenantWorld) -> None:
    assert _client(tenant_a).get("/lines/export.csv?status=nonsense").status_code == 400
    assert _client(tenant_a).get("/lines/export.csv?q=abc").status_code == 400


@pytest.mark.parametrize("sort", ["msisdn", "-msisdn", "-started_on"])
def test_the_list_shows_its_position(tenant_a: TenantWorld, sort: str) -> None:
    import re

    from tests.factories import LineFactory

    LineFactory.create_batch(55, tenant=tenant_a.tenant)  # 58 lines: page 2 of 50 holds 51–58
    Line.objects.filter(pk__in=[line.pk for line in tenant_a.lines]).update(started_on=None)  # some nulls
    client = _client(tenant_a)
    first = client.get(f"/lines/?sort={sort}").content.decode()
    assert re.search(r'data-testid="list-position">1–50 / 58<', first)
    cursor = re.search(r'href="\?[^"]*cursor=([^"&]+)[^"]*" rel="next"', first)
    assert cursor is not None
    second = client.get(f"/lines/?sort={sort}&cursor={cursor.group(1)}").content.decode()
    assert re.search(r'data-testid="list-position">51–58 / 58<', second)
