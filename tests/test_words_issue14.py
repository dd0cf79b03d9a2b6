"""Issue 14, wrong words a line manager sees on day one: the sessions page's IP column, the roles table's
heading, Django's stock "other personal information" password rule, the CSV encoding hint, $ vs US$."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db


def _ja(world: TenantWorld) -> Client:
    client = Client()
    client.force_login(world.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    return client


def test_headings_and_rules_say_what_they_are(tenant_a: TenantWorld) -> None:
    client = _ja(tenant_a)
    sessions = client.get(reverse("accounts:sessions")).content.decode()
    assert "IPアドレス" in sessions and ">住所<" not in sessions
    roles = client.get(reverse("access:index")).content.decode()
    assert '<th scope="col">ロール</th>' in roles and '<th scope="col">権限</th>' not in roles
    create = client.get(reverse("accounts:user_create")).content.decode()
    assert "個人情報" not in create and "personal information" not in create
    assert "ユーザーID・氏名・メールアドレスに似たものは使えません。" in create
    statements = client.get(reverse("statements:index")).content.decode()
    assert "Windows版Excelで開く場合はShift-JISまたはUTF-8 (BOM)を選んでください。" in statements


def test_dollar_amounts_are_written_us_dollar_on_every_page() -> None:
    from pathlib import Path

    import kaisen

    root = Path(kaisen.__file__).parent / "templates"
    bare = [str(p) for p in root.rglob("*.html") if "}${{" in p.read_text() or ">${{" in p.read_text()]
    assert bare == []
