"""Probes, metrics, request IDs and JSON logs (issue 11 §5; kaisen/ops, kaisen/core/observe.py)."""

from __future__ import annotations

import json
import logging
import uuid
from logging.config import DictConfigurator  # type: ignore[attr-defined]
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client

from kaisen.core import metrics
from kaisen.core.observe import RequestIdFilter
from kaisen.procedures.models import Order, OrderStatus
from tests.conftest import TenantWorld
from tests.procedures.engine_support import make_order

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_the_database(client: Client, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok\n"


def test_readyz_checks_database_and_task_backend(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "tasks": "ok"}}


def test_readyz_is_503_when_the_database_fails(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from kaisen.ops import views

    class Broken:
        def __enter__(self) -> Any:
            raise OperationalError("connection refused")

        def __exit__(self, *args: Any) -> None:
            return None

    monkeypatch.setattr(views.connection, "cursor", lambda: Broken())
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and "OperationalError" in body["checks"]["database"]


def test_readyz_is_503_when_redis_is_unreachable(client: Client, settings: Any) -> None:
    """The Redis task backend pointed at a port where nothing listens: a real failed connection."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0", "SOCKET_TIMEOUT": 1}}
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["tasks"] != "ok"


def test_metrics_count_orders_by_state_and_requests(client: Client, tenant_a: TenantWorld) -> None:
    for line in tenant_a.lines[:2]:
        make_order(line)
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    scheduled = Order.objects.filter(status=OrderStatus.SCHEDULED).count()
    assert scheduled == 2
    assert f'kaisen_orders{{state="scheduled"}} {scheduled:.1f}' in text
    assert 'kaisen_orders{state="completed"} 0.0' in text
    assert 'kaisen_http_request_duration_seconds_count{method="GET",route="healthz",status="200"}' in text
    assert "kaisen_task_queue_ready " in text and "kaisen_task_queue_oldest_ready_seconds " in text
    assert "# TYPE kaisen_usage_import_duration_seconds histogram" in text
    assert "# TYPE kaisen_billing_close_duration_seconds histogram" in text


def test_metrics_token(client: Client, settings: Any) -> None:
    settings.KAISEN_METRICS_TOKEN = "s3cret-metrics"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"}).status_code == 200


def test_import_and_close_durations_are_observed() -> None:
    from kaisen.core.errors import DomainError
    from kaisen.usage.ingest import usage_file_import

    def count(result: str) -> float:
        return sum(s.value for m in metrics.IMPORT_SECONDS.collect() for s in m.samples
                   if s.name.endswith("_count") and s.labels.get("result") == result)

    before = count("error")
    with pytest.raises(DomainError):
        usage_file_import(fileobj=None, name="x.csv", kind="nonsense")  # type: ignore[arg-type]
    assert count("error") == before + 1
    from kaisen.billing.close import close_month

    assert getattr(close_month, "__wrapped__", None) is not None  # the close is timed the same way


def test_request_id_is_answered_and_logged(client: Client, caplog: pytest.LogCaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32
    given = "req-" + uuid.uuid4().hex
    assert client.get("/healthz", headers={"X-Request-ID": given})["X-Request-ID"] == given
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"})["X-Request-ID"] != "bad id\n"
    # A log line made during a request carries its ID.
    from kaisen.ops import views

    monkeypatch.setattr(views, "check_task_backend", lambda: "down")
    logger = logging.getLogger("kaisen.ops")
    logger.addFilter(RequestIdFilter())
    try:
        with caplog.at_level(logging.WARNING, logger="kaisen.ops"):
            response = client.get("/readyz", headers={"X-Request-ID": given})
    finally:
        logger.filters.clear()
    assert response.status_code == 503
    assert [r.request_id for r in caplog.records if r.name == "kaisen.ops"] == [given]  # type: ignore[attr-defined]


def test_json_log_lines_carry_the_request_id() -> None:
    conf = dict(settings.LOGGING["formatters"]["json"])
    formatter = DictConfigurator({}).configure_formatter(conf)
    record = logging.LogRecord("kaisen.procedures", logging.WARNING, __file__, 1, "order %s failed", (7,), None)
    RequestIdFilter().filter(record)
    record.request_id = "abc12345"
    line = json.loads(formatter.format(record))
    assert line["message"] == "order 7 failed" and line["level"] == "WARNING"
    assert line["logger"] == "kaisen.procedures" and line["request_id"] == "abc12345" and "time" in line


def test_bench_minimal_view_is_off_unless_asked(client: Client, tenant_a: TenantWorld, settings: Any) -> None:
    msisdn = tenant_a.line.msisdn
    assert client.get(f"/bench-minimal/{msisdn}").status_code == 404
    settings.KAISEN_BENCH_VIEWS = True
    assert client.get(f"/bench-minimal/{msisdn}").json() == {"found": True, "status": tenant_a.line.status}
