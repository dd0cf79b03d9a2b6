"""Prometheus metrics that any layer records (issue 11 §5): request latency, usage-import and monthly-close
durations. ``kaisen.ops`` serves them at ``/metrics`` with the gauges read from the database at scrape time
(orders by state, task queue depth and age).

Several web processes (gunicorn) share one directory, ``PROMETHEUS_MULTIPROC_DIR``, which ``kaisen serve``
sets up; ``/metrics`` then adds up every process. A ``kaisen worker`` on another machine serves its own
``/metrics`` with ``--metrics-port`` (docs/deployment.md).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from prometheus_client import Histogram

F = TypeVar("F", bound=Callable[..., Any])

REQUEST_SECONDS = Histogram(
    "kaisen_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
)
IMPORT_SECONDS = Histogram(
    "kaisen_usage_import_duration_seconds", "Time to import one usage file.", ["result"],
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
CLOSE_SECONDS = Histogram(
    "kaisen_billing_close_duration_seconds", "Time to close one billing month.", ["result"],
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


@contextmanager
def timed(histogram: Histogram) -> Iterator[None]:
    """Observe the block's wall time in ``histogram`` with ``result`` "ok" or "error"."""
    started = time.perf_counter()
    result = "error"
    try:
        yield
        result = "ok"
    finally:
        histogram.labels(result=result).observe(time.perf_counter() - started)


def timed_calls(histogram: Histogram) -> Callable[[F], F]:
    """Decorator: every call of the function is observed as by ``timed``."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with timed(histogram):
                return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
