"""Issue 14 (line list): lines ticked in the line list start a bulk procedure — the existing bulk flow (dry run,
then submit once) for a procedure that needs only the line, the procedure's CSV template filled with the lines
for the others. Only the user's own tenant's lines; bad selections are refused with a message."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from kaisen.lines.models import LineStatus
from kaisen.procedures.models import BulkJob, Order, OrderKind
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import jst, make_line
from tests.procedures.test_web_flows import session

pytestmark = pytest.mark.django_db
URL = "/procedures/bulk/selected/"


@pytest.fixture
def at_open():  # type: ignore[no-untyped-def]
    with time_machine.travel(jst(2026, 11, 24, 10, 0), tick=False) as traveller:
        yield traveller


def test_the_line_list_offers_the_selection(tenant_a: TenantWorld) -> None:
    assert reverse("procedures:bulk_selected") == URL
    page = session(tenant_a).get("/lines/").content.decode()
    assert f'action="{URL}" id="bulk-selection"' in page
    for line in tenant_a.lines:
        assert f'name="line" value="{line.pk}" form="bulk-selection"' in page


def test_selected_lines_go_through_the_dry_run_then_are_submitted(tenant_a: TenantWorld, at_open: Any) -> None:
    first, second = make_line(tenant_a), make_line(tenant_a)
    suspended = make_line(tenant_a, status=LineStatus.SUSPENDED)
    client = session(tenant_a)
    ids = [str(first.pk), str(second.pk), str(suspended.pk)]
    choose = client.post(URL, {"line": ids})
    assert choose.status_code == 200
    html = choose.content.decode()
    assert first.iccid in html and suspended.iccid in html and 'value="suspend"' in html
    started = client.post(URL, {"line": ids, "kind": OrderKind.SUSPEND})
    assert started.status_code == 302
    dry = BulkJob.objects.get(tenant=tenant_a.tenant)
    assert started["Location"] == reverse("procedures:bulk_job", kwargs={"job_id": dry.pk})
    assert dry.dry_run and dry.kind == OrderKind.SUSPEND and (dry.rows_ok, dry.rows_failed) == (2, 1)
    assert not Order.objects.exists(), "the dry run writes no order"
    assert bytes(dry.csv_data or b"").decode("utf-8-sig").split("\r\n")[:4] == [
        "line", first.iccid, second.iccid, suspended.iccid]
    submitted = client.post(reverse("procedures:bulk_submit", kwargs={"job_id": dry.pk}))
    assert submitted.status_code == 302
    assert set(Order.objects.values_list("line_id", flat=True)) == {first.pk, second.pk}


def test_a_procedure_with_more_columns_gives_its_template_filled_with_the_lines(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    response = session(tenant_a).post(URL, {"line": [str(line.pk), str(tenant_a.line.pk)],
                                            "kind": OrderKind.PLAN_CHANGE})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [["line", "plan_code", "data_cap_mb"], [line.iccid, "", ""], [tenant_a.line.iccid, "", ""]]
    assert not BulkJob.objects.exists()


@pytest.mark.parametrize("post", [{}, {"line": ["abc"]}, {"line": ["99999999"]}, {"line": ["-1"]}])
def test_no_or_bad_selection_is_refused_with_a_message(tenant_a: TenantWorld, post: dict[str, Any]) -> None:
    response = session(tenant_a).post(URL, {**post, "kind": OrderKind.SUSPEND}, follow=True)
    assert response.redirect_chain and response.redirect_chain[-1][0] == "/lines/"
    assert "alert" in response.content.decode()
    assert not BulkJob.objects.exists()


def test_another_tenants_line_cannot_be_selected(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    for kind in (OrderKind.SUSPEND, OrderKind.PLAN_CHANGE, ""):
        response = session(tenant_a).post(URL, {"line": [str(tenant_a.line.pk), str(tenant_b.line.pk)],
                                                "kind": kind})
        assert response.status_code == 302 and response["Location"] == "/lines/"
    assert not BulkJob.objects.exists()


def test_an_unknown_procedure_is_refused(tenant_a: TenantWorld) -> None:
    response = session(tenant_a).post(URL, {"line": [str(tenant_a.line.pk)], "kind": "nope"})
    assert response.status_code == 400
    assert not BulkJob.objects.exists()
