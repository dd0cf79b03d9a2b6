"""Issue 14: requirement IDs (M-DL-1, K-6, S-BILL-2 …) and issue references are for developers; a customer
must never see them. This renders every customer page of a demo tenant (as its root user, who sees
everything; in Japanese and English) and fails if one appears in the HTML."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from kaisen.core import clock

pytestmark = pytest.mark.django_db

#: M-DL-1, S-BILL-2, M-PROC-3, X-API, K-6, T-4 … and "issue 5", "(issue 14)".
REQUIREMENT_ID = re.compile(r"\b(?:[MSK]-[A-Z]{2,6}-\d+|X-(?:API|AUDIT)|[KT]-\d+)\b|\b[Ii]ssue \d+\b")
SKIPPED_PREFIXES = ("admin/", "api/", "i18n/", "dev/", "logout/")


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _patterns(entry, route)
        else:
            found.append((route, entry))
    return found


def _fill(route: str, values: dict[str, Any]) -> str | None:
    """The route with each ``<conv:name>`` replaced from ``values``; None when a value is missing."""
    missing = False

    def sub(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(2)
        if name not in values:
            missing = True
            return ""
        return str(values[name])

    url = re.sub(r"<(?:(\w+):)?(\w+)>", sub, route)
    return None if missing or "^" in route or "(?P" in route else "/" + url


def test_no_customer_page_shows_a_requirement_id() -> None:
    from kaisen.accounts.models import User
    from kaisen.billing.models import Invoice
    from kaisen.demo import TENANTS, demo_create
    from kaisen.lines.models import Line
    from kaisen.procedures.models import Order
    from kaisen.tenancy.models import Tenant

    day = dt.date(2026, 11, 22)
    with time_machine.travel(dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST), tick=False):
        demo_create(lines=40, seed=7, today=day)
        tenant = Tenant.objects.get(public_id=TENANTS[0]["public_id"])
        root = User.objects.get(tenant=tenant, is_root=True)
        line = Line.objects.filter(tenant=tenant).order_by("id").first()
        order = Order.objects.filter(tenant=tenant).order_by("id").first()
        invoice = Invoice.objects.filter(tenant=tenant).order_by("id").first()
        values: dict[str, Any] = {}
        if line is not None:
            values.update(pk=line.pk, line_id=line.pk)
        if order is not None:
            values.update(order_id=order.pk)
        if invoice is not None:
            values.update(invoice_id=invoice.pk)
        urls = sorted({url for route, _ in _patterns(get_resolver())
                       if not route.startswith(SKIPPED_PREFIXES) and (url := _fill(route, values))})
        offenders: list[str] = []
        rendered: set[str] = set()
        for lang in ("ja", "en"):
            client = Client()
            client.force_login(root)
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
            for url in urls:
                response = client.get(url)
                if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                    continue
                rendered.add(url)
                html = re.sub(r"<script.*?</script>|<style.*?</style>", "", response.content.decode(), flags=re.S)
                offenders += [f"{lang} {url}: {m.group(0)}" for m in REQUIREMENT_ID.finditer(html)]
    assert len(rendered) >= 30 and "/statements/" in rendered, f"only {sorted(rendered)}: the walk is broken"
    assert offenders == [], "\n".join(sorted(set(offenders)))


def test_the_pattern_finds_requirement_ids() -> None:
    for text in ("M-DL-1", "S-BILL-2", "K-6", "T-4", "M-PROC-3", "X-API", "(issue 14)"):
        assert REQUIREMENT_ID.search(f"<span>{text}</span>"), text
    for text in ("G-IOT-3G", "S-DATA-5G", "S-IOT-CAP", "090-1234-5678", "KK9C38191E", "2026-11-24"):
        assert not REQUIREMENT_ID.search(f"<td>{text}</td>"), text
