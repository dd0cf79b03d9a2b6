"""Every request gets an ID and a latency measurement (issue 11 §5).

``RequestObserveMiddleware`` (first in ``MIDDLEWARE``, so on the API's lean stack too) takes the request ID
from the reverse proxy's ``X-Request-ID`` header when it looks like one (nginx: ``$request_id``), else makes
one; it is answered in ``X-Request-ID`` and added to every log record made while the request runs
(``RequestIdFilter``; with ``KAISEN_LOG_FORMAT=json`` each line is a JSON object with ``request_id``).
The time to answer goes to ``kaisen_http_request_duration_seconds`` by method, route pattern and status.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from kaisen.core.metrics import REQUEST_SECONDS

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("kaisen_request_id", default="")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str:
    """The ID of the request being answered ("" outside a request)."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class RequestObserveMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = given if _VALID_ID.match(given) else uuid.uuid4().hex
        token = _request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = rid
            return response
        finally:
            match = getattr(request, "resolver_match", None)
            route = match.route if match is not None else "unmatched"
            REQUEST_SECONDS.labels(method=request.method if request.method in _METHODS else "other",
                                   route=route or "/", status=str(status)).observe(time.perf_counter() - started)
            _request_id.reset(token)


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
