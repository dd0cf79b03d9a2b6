"""Issue 14 (what a line manager hits on day one): a page refused for a missing permission names it, as the
API's 403 does; the procedures card says which procedures the user may not start; a user who may not create
API keys is told why; the home page lists only the procedures the user may start."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from kaisen.core import clock
from tests.access.helpers import member, web
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import make_line

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST), tick=False):
        yield


def _lang(client, lang: str):  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client


def en(user):  # type: ignore[no-untyped-def]
    return _lang(web(user), "en")


def test_the_403_page_names_the_missing_permission(tenant_a: TenantWorld) -> None:
    client = en(member(tenant_a, "read_only"))
    refused = client.get(reverse("audit:list"))
    assert refused.status_code == 403
    html = refused.content.decode()
    assert "Audit:read" in html and "Read and export the audit log" in html
    html_ja = _lang(client, "ja").get(reverse("access:index")).content.decode()
    assert "Role:manage" in html_ja and "の権限が必要ですが" in html_ja


def test_the_procedures_card_says_which_procedures_are_not_permitted(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    html = en(member(tenant_a, "read_only")).get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    assert "Why are some procedures not available?" in html
    assert html.count('class="not-permitted"') == 8
    ops = en(member(tenant_a, "operations")).get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    assert ops.count('class="not-permitted"') == 3  # cancellation, MNP reservation, plan change


def test_a_user_who_may_not_create_api_keys_is_told_why(tenant_a: TenantWorld) -> None:
    html = en(member(tenant_a, "read_only")).get(reverse("accounts:api_keys")).content.decode()
    assert 'id="api-key-not-allowed"' in html and "Create and revoke own API keys" in html
    root = en(tenant_a.user).get(reverse("accounts:api_keys")).content.decode()
    assert 'id="api-key-not-allowed"' not in root and "Create key" in root


def test_home_lists_only_the_procedures_the_user_may_start(tenant_a: TenantWorld) -> None:
    ops = en(member(tenant_a, "operations")).get(reverse("core:home")).content.decode()
    assert "Suspend a line" in ops and "Cancel a line" not in ops and "Change a line's plan" not in ops
    reader = en(member(tenant_a, "read_only")).get(reverse("core:home")).content.decode()
    assert 'id="home-procedures"' not in reader
    assert reverse("procedures:mnp_waiting") not in reader.split("<main")[-1]
    root = en(tenant_a.user).get(reverse("core:home")).content.decode()
    assert "Cancel a line" in root
