"""Probes and metrics for the operator's tooling (issue 11 §5; docs/deployment.md).

- ``/healthz``: the process is up and answers (no database access): for the load balancer's liveness check.
- ``/readyz``: the database answers and the task backend is reachable: 200, else 503 with what failed.
- ``/metrics``: Prometheus text format. Request latency and the import/close durations come from
  ``kaisen.core.metrics`` (added up over the web processes of this machine when ``PROMETHEUS_MULTIPROC_DIR``
  is set); orders by state and the task queue's depth and age are read from the database at scrape time.

None of them needs a login; ``/metrics`` tells order counts, not data, and ``KAISEN_METRICS_TOKEN`` makes it
ask for ``Authorization: Bearer <token>`` (set it when the port is reachable from outside).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("kaisen.ops")


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


def check_database() -> str | None:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def check_task_backend() -> str | None:
    backend = str(settings.TASKS["default"]["BACKEND"])
    try:
        if backend == "django_tasks_db.DatabaseBackend":
            from django_tasks_db.models import DBTaskResult

            DBTaskResult.objects.only("pk").first()  # the table is there and readable
        elif backend.startswith("django_tasks_rq"):
            from django_rq import get_connection

            get_connection(settings.TASKS["default"].get("QUEUES", ["default"])[0]).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    checks = {"database": check_database(), "tasks": check_task_backend()}
    ok = all(v is None for v in checks.values())
    if not ok:
        log.warning("not ready: %s", {k: v for k, v in checks.items() if v})
    return JsonResponse({"status": "ok" if ok else "unavailable",
                         "checks": {k: "ok" if v is None else v for k, v in checks.items()}},
                        status=200 if ok else 503)


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time: the same answer from every process."""

    def collect(self) -> Iterator[Any]:
        from django.db.models import Count

        from kaisen.core.taskqueue import queue_state
        from kaisen.procedures.models import Order, OrderStatus

        orders = GaugeMetricFamily("kaisen_orders", "Orders by state.", labels=["state"])
        counts = dict(Order.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        for status in OrderStatus.values:
            orders.add_metric([status], counts.get(status, 0))
        yield orders
        state = queue_state()
        if state is not None:
            yield GaugeMetricFamily("kaisen_task_queue_ready", "Tasks waiting for a worker.", value=state.ready)
            yield GaugeMetricFamily("kaisen_task_queue_running", "Tasks being run.", value=state.running)
            yield GaugeMetricFamily("kaisen_task_queue_oldest_ready_seconds",
                                    "How long the oldest waiting task has waited.", value=state.oldest_ready_seconds)


def metrics_text() -> bytes:
    """This process's metrics (or every process's of this machine, in multiprocess mode) and the gauges
    read from the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        text = generate_latest(processes)
    else:
        text = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return text + generate_latest(database)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.KAISEN_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


def bench_minimal(request: HttpRequest, msisdn: str) -> HttpResponse:
    """The "minimal Django view" of the API benchmark (docs/benchmarks.md): one query, a JSON answer, no
    authentication. Off (404) unless ``KAISEN_BENCH_VIEWS=1``; never enable it on a real deployment."""
    from django.http import Http404

    from kaisen.lines.models import Line

    if not settings.KAISEN_BENCH_VIEWS:
        raise Http404
    row = Line.objects.filter(msisdn=msisdn).values_list("id", "status").first()
    return JsonResponse({"found": row is not None, "status": row[1] if row else None})
