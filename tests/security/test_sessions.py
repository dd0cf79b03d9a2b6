"""Sessions and request security (issue 5 §5): session ID rotated at login, logout invalidates server-side,
a password change ends the other sessions, "My sessions" lists and revokes, cookie flags, CSRF on every
form, CSP header, ``check --deploy`` clean in production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from kaisen.accounts.models import User
from kaisen.security.models import UserSession
from tests.factories import PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[2]
SessionStore = import_module(settings.SESSION_ENGINE).SessionStore


def _form_login(user: User, client: Client | None = None, **extra: str) -> Client:
    client = client or Client(**extra)
    assert user.tenant is not None
    response = client.post("/login/", {"operator_id": user.tenant.public_id, "username": user.username,
                                       "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def _signed_in(client: Client) -> bool:
    return client.get("/account/security/").status_code == 200


@pytest.mark.django_db
def test_login_rotates_the_session_id() -> None:
    user = UserFactory()
    planted = SessionStore()
    planted["planted"] = True
    planted.create()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    _form_login(user, client)
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != planted.session_key
    assert not SessionStore().exists(planted.session_key)
    assert UserSession.objects.get(user=user).session_key == new_key


@pytest.mark.django_db
def test_logout_invalidates_the_session_on_the_server() -> None:
    user = UserFactory()
    client = _form_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/logout/").status_code == 302
    assert not SessionStore().exists(key)
    assert UserSession.objects.get(session_key=key).end_reason == "logout"
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert not _signed_in(replay)


@pytest.mark.django_db
@pytest.mark.parametrize("end_others", [True, False])
def test_password_change_ends_the_other_sessions_unless_told_not_to(end_others: bool) -> None:
    user = UserFactory()
    mine, other = _form_login(user), _form_login(user)
    data = {"current_password": PASSWORD, "new_password1": "a-new-long-passphrase-5",
            "new_password2": "a-new-long-passphrase-5"}
    if end_others:
        data["end_other_sessions"] = "on"
    assert mine.post("/account/password/", data).status_code == 302
    assert _signed_in(mine)
    assert _signed_in(other) is not end_others


@pytest.mark.django_db
def test_my_sessions_lists_and_revokes() -> None:
    user, stranger = UserFactory(), UserFactory()
    mine = _form_login(user, HTTP_USER_AGENT="Firefox on the office PC", REMOTE_ADDR="203.0.113.5")
    other = _form_login(user, HTTP_USER_AGENT="Safari on a phone")
    theirs = _form_login(stranger)
    page = mine.get("/account/sessions/").content.decode()
    assert "Firefox on the office PC" in page and "Safari on a phone" in page and "203.0.113.5" in page
    other_row = UserSession.objects.get(user=user, user_agent="Safari on a phone")
    stranger_row = UserSession.objects.get(user=stranger)
    assert mine.post("/account/sessions/", {"session": stranger_row.pk}).status_code == 404
    assert _signed_in(theirs)
    assert mine.post("/account/sessions/", {"session": other_row.pk}).status_code == 302
    assert not _signed_in(other) and _signed_in(mine)
    assert not SessionStore().exists(other_row.session_key)


@pytest.mark.django_db
def test_a_session_whose_record_was_ended_is_refused() -> None:
    """The middleware's backstop, whatever the session backend: an ended record signs the session out."""
    user = UserFactory()
    client = _form_login(user)
    UserSession.objects.filter(user=user).update(ended_at="2026-01-01T00:00:00Z")
    assert not _signed_in(client)


@pytest.mark.django_db
def test_cookie_flags_and_csp_header() -> None:
    user = UserFactory()
    client = Client()
    page = client.get("/login/")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    _form_login(user, client)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"
    assert "Content-Security-Policy" in client.get("/account/sessions/").headers


# --- CSRF on every form ---------------------------------------------------------------------------

EXCLUDED_PREFIXES = {
    "api/": "the API authenticates with bearer tokens, not cookies (CSRF does not apply)",
    "static/": "static files",
}
SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": str(uuid.uuid4())}


def _paths(patterns: list, prefix: str = "") -> Iterator[tuple[str, str]]:
    for entry in patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            route = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE[m.group(1) or "str"], str(pattern))
        else:
            raw = str(pattern).lstrip("^").rstrip("$").replace("\\Z", "")
            if "(" in raw or "\\" in raw:
                continue   # regex routes with groups: the admin's per-app index (the admin's forms are covered)
            route = raw
        if isinstance(entry, URLResolver):
            yield from _paths(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route, str(entry.name)


def csrf_marker(request: HttpRequest, reason: str = "") -> HttpResponse:
    return HttpResponse("csrf-refused", status=403)


@pytest.mark.django_db
@override_settings(CSRF_FAILURE_VIEW="tests.security.test_sessions.csrf_marker")
def test_every_form_refuses_a_post_without_a_csrf_token() -> None:
    user = UserFactory(is_root=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    anonymous = Client(enforce_csrf_checks=True)
    checked = []
    for path, name in _paths(get_resolver().url_patterns):
        if any(path.startswith(p) for p in EXCLUDED_PREFIXES):
            continue
        for who in (client, anonymous):
            response = who.post("/" + path, {"x": "1"})
            assert response.status_code == 403 and response.content == b"csrf-refused", (path, name)
        checked.append(path)
    assert {"login/", "logout/", "account/password/", "account/sessions/", "password-reset/"} <= set(checked)
    print(f"\nCSRF: {len(checked)} routes refused a POST without a token")


def test_check_deploy_is_clean_in_production_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update({"KAISEN_PRODUCTION": "1", "KAISEN_SECRET_KEY": secrets.token_urlsafe(50)[:50],
                "KAISEN_ALLOWED_HOSTS": "portal.example.jp", "KAISEN_DATA_DIR": str(tmp_path)})
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout, done.stdout
    probe = subprocess.run([sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
                            "'kaisen.settings'; django.setup(); from django.conf import settings as s; "
                            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
                            "s.SESSION_COOKIE_SAMESITE)"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert probe.stdout.split() == ["True", "True", "True", "Lax"], probe.stderr
