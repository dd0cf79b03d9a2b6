"""Bulk procedures over the API (X-BULK, X-API): multipart upload, the job, the result file, T-2."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from kaisen.core import clock
from kaisen.procedures.models import BulkJob, Order
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(TUESDAY_1030, tick=False):
        yield


def _upload(world: TenantWorld, data: bytes, *, kind: str = "suspend", dry_run: bool | None = None,
            name: str = "lines.csv") -> Any:
    api = world.api()
    form: dict[str, Any] = {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "kind": kind}
    if dry_run is not None:
        form["dry_run"] = "true" if dry_run else "false"
    return api.client.post("/api/v1/bulk", form, headers=api._headers())


def test_upload_submit_and_fetch_the_job_and_result_x_bulk(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    a, b, _c = tenant_a.lines
    data = (f"line,end_date\r\n{a.msisdn},2026-12-31\r\n{tenant_b.line.msisdn},2026-12-31\r\n"
            f"{b.iccid},2026/12/25\r\n").encode("cp932")
    response = _upload(tenant_a, data, kind="cancellation")
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["kind"] == "cancellation" and job["dry_run"] is False and job["status"] == "done"
    assert (job["rows_total"], job["rows_ok"], job["rows_failed"]) == (3, 2, 1)
    assert [r["result"] for r in job["results"]] == ["accepted", "refused", "accepted"]
    assert job["results"][1]["code"] == "NOT_FOUND" and job["results"][1]["order_id"] is None
    assert job["results"][2]["effective_date"] == "2026-12-25"
    assert tenant_b.tenant.legal_name not in response.content.decode()
    assert Order.objects.filter(bulk_job_id=job["id"]).count() == 2
    assert not Order.objects.filter(tenant=tenant_b.tenant).exists()

    api = tenant_a.api()
    again = api.get(f"/api/v1/bulk/{job['id']}")
    assert again.status_code == 200 and again.json() == job

    result = api.get(f"/api/v1/bulk/{job['id']}/result.csv")
    assert result.status_code == 200
    assert result["Content-Type"].startswith("text/csv")
    assert "attachment" in result["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(result.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["line", "end_date", "result", "order_id", "effective_date", "code", "message"]
    assert [r[2] for r in rows[1:]] == ["accepted", "refused", "accepted"]

    # Each order of the job is an ordinary order, listed with its job.
    listed = api.get("/api/v1/orders").json()["items"]
    assert {o["bulk_job_id"] for o in listed} == {job["id"]}


def test_dry_run_over_the_api_writes_no_order_x_bulk(tenant_a: TenantWorld) -> None:
    response = _upload(tenant_a, f"line\n{tenant_a.line.msisdn}\n".encode(), dry_run=True)
    assert response.status_code == 201
    job = response.json()
    assert job["dry_run"] is True and job["status"] == "dry_run"
    assert job["results"][0]["result"] == "would_accept" and job["results"][0]["ok"] is True
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("data", "kind", "status", "code"),
    [
        (b"", "suspend", 400, "INVALID_CSV"),
        (b"phone\n09012345678\n", "suspend", 400, "INVALID_CSV"),
        (b"line,colour\n09012345678,red\n", "suspend", 400, "INVALID_CSV"),
        (b"line\n09012345678\n", "teleport", 422, "VALIDATION_ERROR"),
    ],
)
def test_a_bad_file_or_kind_is_4xx_with_a_code_x_bulk(tenant_a: TenantWorld, data: bytes, kind: str, status: int,
                                                      code: str) -> None:
    response = _upload(tenant_a, data, kind=kind)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["message"]
    assert not BulkJob.objects.exists()


def test_missing_file_is_422(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    response = api.client.post("/api/v1/bulk", {"kind": "suspend"}, headers=api._headers())
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"


def test_another_tenants_bulk_job_is_404_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    job_id = _upload(tenant_b, f"line\n{tenant_b.line.msisdn}\n".encode(), dry_run=True).json()["id"]
    api = tenant_a.api()
    for url in (f"/api/v1/bulk/{job_id}", f"/api/v1/bulk/{job_id}/result.csv"):
        theirs, ghost = api.get(url), api.get(url.replace(f"/{job_id}", "/987654321"))
        assert theirs.status_code == ghost.status_code == 404
        assert theirs.json()["code"] == "NOT_FOUND" and theirs.content == ghost.content
        assert tenant_b.line.msisdn not in theirs.content.decode()
