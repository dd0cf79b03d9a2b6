"""X-I18N: Japanese by default whatever the browser says; English once chosen; the API follows Accept-Language."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_pages_are_japanese_by_default_even_for_an_english_browser() -> None:
    page = Client().get("/login/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert page.status_code == 200
    assert 'lang="ja"' in page.content.decode()


@pytest.mark.django_db
def test_language_switch_to_english_sticks() -> None:
    client = Client()
    resp = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert resp.status_code == 302
    page = client.get("/login/")
    assert 'lang="en"' in page.content.decode()


@pytest.mark.django_db
def test_api_errors_follow_accept_language() -> None:
    body = {"operator_id": "OP0000000000", "username": "nobody_here", "password": "x"}
    ja = Client().post("/api/v1/auth", body, content_type="application/json")
    en = Client().post("/api/v1/auth", body, content_type="application/json", headers={"Accept-Language": "en"})
    assert ja.status_code == en.status_code == 401
    assert ja.json()["code"] == en.json()["code"] == "AUTHENTICATION_FAILED"
    assert "パスワード" in ja.json()["message"]
    assert "password" in en.json()["message"]
