"""The bulk application pages (X-BULK): template download, dry run, real run once, result download."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kaisen.lines.models import LineStatus
from kaisen.procedures.models import BulkJob, Order, OrderKind
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import jst, make_line
from tests.procedures.test_web_flows import session

pytestmark = pytest.mark.django_db


@pytest.fixture
def at_open():  # type: ignore[no-untyped-def]
    with time_machine.travel(jst(2026, 11, 24, 10, 0), tick=False) as traveller:
        yield traveller


def _csv(rows: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile("suspend.csv", ("\r\n".join(rows) + "\r\n").encode(), content_type="text/csv")


def test_template_has_the_kinds_header(tenant_a: TenantWorld) -> None:
    client = session(tenant_a)
    response = client.get(reverse("procedures:bulk_template"), {"kind": "cancellation"})
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig").strip() == "line,end_date"
    assert client.get(reverse("procedures:bulk_template"), {"kind": "nope"}).status_code == 404


def test_dry_run_then_real_run_once_then_download_x_bulk(tenant_a: TenantWorld, tenant_b: TenantWorld,
                                                         at_open: Any) -> None:
    active = make_line(tenant_a)
    cancelled = make_line(tenant_a, status=LineStatus.CANCELLED)
    client = session(tenant_a)
    upload = client.post(reverse("procedures:bulk"), {
        "kind": OrderKind.SUSPEND, "mode": "dry_run",
        "file": _csv(["line", active.msisdn or "", cancelled.msisdn or "", tenant_b.line.msisdn or ""])})
    assert upload.status_code == 302
    dry = BulkJob.objects.get(tenant=tenant_a.tenant)
    assert dry.dry_run and (dry.rows_ok, dry.rows_failed) == (1, 2)
    assert not Order.objects.exists(), "a dry run writes no order"
    page = client.get(upload["Location"]).content.decode()
    assert "Would be accepted" in page and "Would be refused" in page
    assert tenant_b.line.iccid not in page

    submit_url = reverse("procedures:bulk_submit", kwargs={"job_id": dry.pk})
    assert f'action="{submit_url}"' in page
    real = client.post(submit_url)
    assert real.status_code == 302
    job = BulkJob.objects.get(tenant=tenant_a.tenant, dry_run=False)
    assert real["Location"] == reverse("procedures:bulk_job", kwargs={"job_id": job.pk})
    assert Order.objects.filter(line=active).count() == 1
    # A second click on the dry run's submit button shows the first run, and applies nothing again.
    again = client.post(submit_url)
    assert again["Location"] == real["Location"]
    assert BulkJob.objects.filter(dry_run=False).count() == 1
    assert "has been submitted" in client.get(upload["Location"]).content.decode()

    result = client.get(reverse("procedures:bulk_result", kwargs={"job_id": job.pk}))
    assert result.status_code == 200 and result["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(result.content.decode("utf-8-sig"))))
    assert [r["result"] for r in rows] == ["accepted", "refused", "refused"]
    order = Order.objects.get(line=active)
    assert rows[0]["order_id"] == str(order.pk)
    page = client.get(real["Location"]).content.decode()
    assert reverse("procedures:order_detail", kwargs={"order_id": order.pk}) in page


def test_direct_run_and_bad_file(tenant_a: TenantWorld, at_open: Any) -> None:
    line = make_line(tenant_a)
    client = session(tenant_a)
    bad = client.post(reverse("procedures:bulk"), {"kind": OrderKind.SUSPEND, "mode": "dry_run",
                                                   "file": _csv(["phone", line.msisdn or ""])})
    assert bad.status_code == 400
    assert "line" in bad.content.decode() and not BulkJob.objects.exists()
    direct = client.post(reverse("procedures:bulk"), {"kind": OrderKind.SUSPEND, "mode": "submit",
                                                      "file": _csv(["line", line.msisdn or ""])})
    assert direct.status_code == 302
    assert Order.objects.filter(line=line).count() == 1


def test_another_tenants_bulk_job_is_404_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld, at_open: Any) -> None:
    from kaisen.procedures.bulk import bulk_run

    job = bulk_run(tenant=tenant_b.tenant, user=tenant_b.user, kind=OrderKind.SUSPEND,
                   csv_bytes=f"line\n{tenant_b.line.msisdn}\n".encode(), filename="b.csv", dry_run=True)
    client = session(tenant_a)
    for name in ("bulk_job", "bulk_result", "bulk_submit"):
        target = reverse(f"procedures:{name}", kwargs={"job_id": job.pk})
        assert client.post(target).status_code in (404, 405)
        assert client.get(target).status_code in (404, 405)
    assert not BulkJob.objects.filter(dry_run=False).exists()
    assert not Order.objects.exists()
