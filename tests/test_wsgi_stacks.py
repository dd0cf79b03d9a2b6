"""The WSGI application serves /api/v1 through a lean middleware stack and the pages through the full one
(issue 11 §2, kaisen/wsgi.py). Requests go through the real WSGI application (httpx's WSGI transport), not
the test client, which always uses the full stack."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.conf import settings

from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db


@pytest.fixture
def app() -> Iterator[httpx.Client]:
    from django.core import signals
    from django.db import close_old_connections

    from kaisen.wsgi import application

    # Inside the test's transaction the handler must not close the connection at the end of a request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=application), base_url="http://testserver") as c:
            yield c
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_api_stack_leaves_out_the_page_middlewares() -> None:
    from kaisen.wsgi import application

    api_chain = settings.KAISEN_API_MIDDLEWARE
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in api_chain
    assert "django.middleware.csrf.CsrfViewMiddleware" not in api_chain
    assert "kaisen.core.middleware.RequestContextMiddleware" in api_chain  # the audit's client address
    assert "django.middleware.security.SecurityMiddleware" in api_chain
    assert len(api_chain) < len(settings.MIDDLEWARE)
    assert set(api_chain) <= set(settings.MIDDLEWARE)  # a middleware added to MIDDLEWARE reaches the API
    # The API handler really was built from the lean list.
    def chain(handler: Any) -> list[str]:
        names: list[str] = []
        handler = getattr(handler, "__wrapped__", handler)  # convert_exception_to_response's wrapper
        while hasattr(handler, "get_response"):
            names.append(f"{type(handler).__module__}.{type(handler).__name__}")
            handler = getattr(handler.get_response, "__wrapped__", handler.get_response)
        return names

    assert chain(application.api._middleware_chain) == api_chain
    assert chain(application.web._middleware_chain) == settings.MIDDLEWARE


def test_api_answers_through_the_lean_stack(app: httpx.Client, tenant_a: TenantWorld) -> None:
    auth = {"Authorization": f"Bearer {tenant_a.token}"}
    response = app.get(f"/api/v1/lines/{tenant_a.line.pk}", headers=auth)
    assert response.status_code == 200 and response.json()["iccid"] == tenant_a.line.iccid
    assert "set-cookie" not in response.headers  # no session, no CSRF cookie
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware still runs
    # Errors are still the API's: unauthenticated, bad credentials, unknown IDs, in the asked language.
    assert app.get("/api/v1/me").json()["code"] == "NOT_AUTHENTICATED"
    bad = app.post("/api/v1/auth", json={"operator_id": tenant_a.tenant.public_id, "username": "nobody",
                                         "password": "wrong-password-1"}, headers={"Accept-Language": "en"})
    assert bad.status_code == 401 and bad.json()["code"]
    assert app.get("/api/v1/lines/999999999", headers=auth).json()["code"] == "NOT_FOUND"


def test_pages_and_api_docs_keep_the_full_stack(app: httpx.Client) -> None:
    login = app.get("/login/")
    assert login.status_code == 200
    assert "content-security-policy" in login.headers and "csrftoken" in login.headers.get("set-cookie", "")
    docs = app.get("/api/v1/docs")
    assert docs.status_code == 200 and "x-frame-options" in docs.headers
