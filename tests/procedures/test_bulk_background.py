"""Bulk uploads as background jobs (X-BULK): queued → running → done, progress, idempotent re-upload,
a run lost with its worker resumed without a second order, tenant isolation of the job and its file."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from kaisen.core.errors import DomainError
from kaisen.lines.models import Line
from kaisen.procedures import bulk
from kaisen.procedures.bulk import (
    bulk_job_run,
    bulk_job_status,
    bulk_process,
    bulk_requeue_stale,
    bulk_result_csv,
    bulk_start,
)
from kaisen.procedures.models import BulkJob, BulkJobStatus, Order
from kaisen.procedures.worker import Scheduler
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import jst, make_line
from tests.procedures.test_web_flows import session

pytestmark = pytest.mark.django_db

ROWS = 8


@pytest.fixture(autouse=True)
def _small_inline_limit() -> Iterator[Any]:
    """Files of more than 3 rows run in the background here (200 in production)."""
    with time_machine.travel(jst(2026, 11, 24, 10, 0), tick=False) as traveller, \
            override_settings(KAISEN_BULK_INLINE_ROWS=3, KAISEN_BULK_STALE_SECONDS=60):
        yield traveller


def _lines(world: TenantWorld, n: int = ROWS) -> list[Line]:
    return [make_line(world) for _ in range(n)]


def _csv(lines: list[Line]) -> bytes:
    return ("line\r\n" + "".join(f"{line.msisdn}\r\n" for line in lines)).encode()


def _start(world: TenantWorld, data: bytes, *, dry_run: bool = False, key: str = "") -> tuple[BulkJob, bool]:
    return bulk_start(tenant=world.tenant, user=world.user, kind="suspend", csv_bytes=data, filename="big.csv",
                      dry_run=dry_run, idempotency_key=key)


def _enqueued(job: BulkJob) -> list[DBTaskResult]:
    return [t for t in DBTaskResult.objects.all() if t.task_path.endswith("bulk_job_run") and t.args_kwargs["args"]
            == [job.pk]]


def test_a_large_file_is_queued_then_done_by_the_task(tenant_a: TenantWorld,
                                                      django_capture_on_commit_callbacks: Any) -> None:
    lines = _lines(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        job, created = _start(tenant_a, _csv(lines))
    assert created and job.status == BulkJobStatus.QUEUED and bulk_job_status(job) == "queued"
    assert (job.rows_total, job.rows_done, job.results) == (ROWS, 0, [])
    assert not Order.objects.exists(), "nothing runs inside the request"
    assert len(_enqueued(job)) == 1, "the task is enqueued on commit"
    assert bytes(job.csv_data) == _csv(lines)

    assert bulk_job_run.call(job.pk) == "done"
    job.refresh_from_db()
    assert job.status == BulkJobStatus.DONE and bulk_job_status(job) == "done"
    assert (job.rows_done, job.rows_ok, job.rows_failed) == (ROWS, ROWS, 0)
    assert job.finished_at is not None and job.attempts == 1
    assert Order.objects.filter(bulk_job=job).count() == ROWS
    assert bulk_job_run.call(job.pk) == "skipped", "a second task for a finished job does nothing"
    assert Order.objects.filter(bulk_job=job).count() == ROWS


def test_a_small_file_still_runs_inline(tenant_a: TenantWorld) -> None:
    job, created = _start(tenant_a, _csv(_lines(tenant_a, 3)))
    assert created and job.status == BulkJobStatus.DONE and job.rows_done == 3
    assert Order.objects.filter(bulk_job=job).count() == 3
    assert not _enqueued(job)


def test_progress_is_written_while_the_job_runs(tenant_a: TenantWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "PROGRESS_EVERY_ROWS", 2)
    monkeypatch.setattr(bulk, "RESULTS_EVERY_ROWS", 4)
    seen: list[tuple[str, int, int]] = []
    real_row = bulk._bulk_row

    def spy(job: BulkJob, *args: Any) -> dict[str, Any]:
        now = BulkJob.objects.get(pk=job.pk)
        seen.append((now.status, now.rows_done, len(now.results)))
        return real_row(job, *args)

    monkeypatch.setattr(bulk, "_bulk_row", spy)
    job, _ = _start(tenant_a, _csv(_lines(tenant_a)))
    bulk_process(job.pk)
    assert [s[0] for s in seen] == ["running"] * ROWS
    assert [s[1] for s in seen] == [0, 0, 2, 2, 4, 4, 6, 6]
    assert [s[2] for s in seen] == [0, 0, 0, 0, 4, 4, 4, 4]


def test_the_same_upload_sent_again_returns_the_same_job(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    data = _csv(_lines(tenant_a))
    first, created = _start(tenant_a, data, key="upload-1")
    again, created_again = _start(tenant_a, data, key="upload-1")
    assert created and not created_again and again.pk == first.pk
    assert BulkJob.objects.count() == 1
    with pytest.raises(DomainError) as info:
        _start(tenant_a, data + b"09000000000\r\n", key="upload-1")
    assert info.value.code == "IDEMPOTENCY_KEY_REUSED"
    # The key is the tenant's own: another tenant may use the same words.
    other, created_b = _start(tenant_b, f"line\r\n{tenant_b.line.msisdn}\r\n".encode(), key="upload-1")
    assert created_b and other.pk != first.pk


def test_a_run_lost_with_its_worker_resumes_without_a_second_order(
        tenant_a: TenantWorld, monkeypatch: pytest.MonkeyPatch, _small_inline_limit: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    monkeypatch.setattr(bulk, "RESULTS_EVERY_ROWS", 2)
    job, _ = _start(tenant_a, _csv(_lines(tenant_a)))
    real_row = bulk._bulk_row

    def killed_at_row_6(job: BulkJob, *args: Any) -> dict[str, Any]:
        if args[-2] == 6:
            raise SystemExit("worker killed")  # not an Exception: nothing is written, like a kill -9
        return real_row(job, *args)

    monkeypatch.setattr(bulk, "_bulk_row", killed_at_row_6)
    with pytest.raises(SystemExit):
        bulk_process(job.pk)
    monkeypatch.setattr(bulk, "_bulk_row", real_row)
    job.refresh_from_db()
    # Left running: rows 1-5 submitted, results saved up to row 4 (row 5 made its order after that).
    assert job.status == BulkJobStatus.RUNNING and len(job.results) == 4 and job.rows_done == 4
    assert Order.objects.filter(bulk_job=job).count() == 5

    assert bulk_process(job.pk) == "skipped", "a run heard from recently is not taken over"
    assert bulk_requeue_stale() == 0
    _small_inline_limit.shift(dt.timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert bulk_requeue_stale() == 1
    job.refresh_from_db()
    assert job.status == BulkJobStatus.QUEUED and len(_enqueued(job)) == 1

    assert bulk_job_run.call(job.pk) == "done"
    job.refresh_from_db()
    assert job.status == BulkJobStatus.DONE and job.attempts == 2
    assert (job.rows_done, job.rows_ok, job.rows_failed) == (ROWS, ROWS, 0)
    assert [r["row"] for r in job.results] == list(range(1, ROWS + 1))
    orders = Order.objects.filter(bulk_job=job)
    assert orders.count() == ROWS, "row 5 is recognised by its idempotency key, not ordered twice"
    assert sorted(r["order_id"] for r in job.results) == sorted(orders.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)  # the scheduler closes stale connections, as in production
def test_the_scheduler_enqueues_lost_jobs_again_and_gives_up_after_max_attempts(
        tenant_a: TenantWorld, _small_inline_limit: Any) -> None:
    job, _ = _start(tenant_a, _csv(_lines(tenant_a)))
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJobStatus.RUNNING, attempts=bulk.MAX_ATTEMPTS)
    _small_inline_limit.shift(dt.timedelta(seconds=61))
    Scheduler(1).tick_once()
    job.refresh_from_db()
    assert job.status == BulkJobStatus.FAILED and job.error_message
    assert bulk_job_status(job) == "failed"


def test_another_tenants_job_and_its_file_are_not_found_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    job, _ = _start(tenant_b, _csv(_lines(tenant_b)), dry_run=True)
    bulk_job_run.call(job.pk)
    assert tenant_a.api().get(f"/api/v1/bulk/{job.pk}").status_code == 404
    assert tenant_a.api().get(f"/api/v1/bulk/{job.pk}/result.csv").status_code == 404
    client = session(tenant_a)
    for name in ("bulk_job", "bulk_result"):
        assert client.get(reverse(f"procedures:{name}", kwargs={"job_id": job.pk})).status_code == 404
    assert client.post(reverse("procedures:bulk_submit", kwargs={"job_id": job.pk})).status_code == 404
    with pytest.raises(Exception, match="No such bulk upload"):
        bulk_result_csv(tenant=tenant_a.tenant, job_id=job.pk)
    assert not BulkJob.objects.filter(tenant=tenant_a.tenant).exists() and not Order.objects.exists()


def _api_upload(world: TenantWorld, data: bytes, key: str = "", dry_run: bool = False) -> Any:
    api = world.api()
    headers = {**api._headers(), **({"Idempotency-Key": key} if key else {})}
    return api.client.post("/api/v1/bulk", {"file": SimpleUploadedFile("big.csv", data, content_type="text/csv"),
                                            "kind": "suspend", "dry_run": "true" if dry_run else "false"},
                           headers=headers)


def test_api_answers_202_then_shows_progress_and_the_result(tenant_a: TenantWorld) -> None:
    data = _csv(_lines(tenant_a))
    response = _api_upload(tenant_a, data, key="k-1")
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["status"], job["rows_total"], job["rows_done"], job["results"]) == ("queued", ROWS, 0, [])
    again = _api_upload(tenant_a, data, key="k-1")
    assert again.status_code == 202 and again.json()["id"] == job["id"]

    bulk_job_run.call(job["id"])
    done = tenant_a.api().get(f"/api/v1/bulk/{job['id']}").json()
    assert (done["status"], done["rows_done"], done["rows_ok"]) == ("done", ROWS, ROWS)
    assert len(done["results"]) == ROWS and done["finished_at"]
    replay = _api_upload(tenant_a, data, key="k-1")
    assert replay.status_code == 200 and replay.json() == done
    assert _api_upload(tenant_a, data + b"\r\n09000000000\r\n", key="k-1").status_code == 409
    small = _api_upload(tenant_a, _csv(_lines(tenant_a, 2)), dry_run=True)
    assert small.status_code == 201 and small.json()["status"] == "dry_run"


def test_web_job_page_polls_while_queued_then_shows_the_results(tenant_a: TenantWorld) -> None:
    client = session(tenant_a)
    lines = _lines(tenant_a)
    upload = client.post(reverse("procedures:bulk"), {
        "kind": "suspend", "mode": "dry_run", "idempotency_key": "web-abc",
        "file": SimpleUploadedFile("big.csv", _csv(lines), content_type="text/csv")})
    assert upload.status_code == 302
    job = BulkJob.objects.get(tenant=tenant_a.tenant)
    assert job.status == BulkJobStatus.QUEUED
    page = client.get(upload["Location"]).content.decode()
    assert 'id="bulk-progress"' in page and 'hx-trigger="every 2s"' in page
    assert reverse("procedures:bulk_submit", kwargs={"job_id": job.pk}) not in page, "no submit before it is done"
    panel = client.get(upload["Location"], headers={"HX-Request": "true"})
    assert panel.status_code == 200 and "0 of 8 rows" in panel.content.decode()
    # The same form sent again (a lost answer): the same job.
    resent = client.post(reverse("procedures:bulk"), {
        "kind": "suspend", "mode": "dry_run", "idempotency_key": "web-abc",
        "file": SimpleUploadedFile("big.csv", _csv(lines), content_type="text/csv")})
    assert resent["Location"] == upload["Location"] and BulkJob.objects.count() == 1

    bulk_job_run.call(job.pk)
    finished = client.get(upload["Location"], headers={"HX-Request": "true"})
    assert finished.status_code == 204 and finished["HX-Refresh"] == "true"
    page = client.get(upload["Location"]).content.decode()
    assert 'id="bulk-progress"' not in page and page.count("Would be accepted") == ROWS

    # The real run of the dry run's file (kept on the job, not in the session) is large too: queued.
    real = client.post(reverse("procedures:bulk_submit", kwargs={"job_id": job.pk}))
    real_job = BulkJob.objects.get(dry_run=False)
    assert real["Location"] == reverse("procedures:bulk_job", kwargs={"job_id": real_job.pk})
    assert real_job.status == BulkJobStatus.QUEUED and bytes(real_job.csv_data) == _csv(lines)
    bulk_job_run.call(real_job.pk)
    assert Order.objects.filter(bulk_job=real_job).count() == ROWS
    assert client.get(real["Location"]).content.decode().count(">Accepted<") == ROWS
    result = client.get(reverse("procedures:bulk_result", kwargs={"job_id": real_job.pk}))
    assert result.status_code == 200 and result.content.decode("utf-8-sig").count("accepted") == ROWS


def test_job_json_has_the_progress_fields(tenant_a: TenantWorld) -> None:
    job, _ = _start(tenant_a, _csv(_lines(tenant_a)))
    body = json.loads(tenant_a.api().get(f"/api/v1/bulk/{job.pk}").content)
    assert {"status", "rows_total", "rows_done", "idempotency_key", "finished_at"} <= set(body)
