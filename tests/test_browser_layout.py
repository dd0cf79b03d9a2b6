"""Issue 14: every customer page fits the window. At 1366 px (a common office laptop) nothing is wider than the
window, in Japanese and in English; at 390 px (a phone) only the table wrappers scroll, never the page.

One demo tenant (lines, orders, closed months with invoices), its root user, one Chromium page reused for
every URL the resolver knows that needs no parameter, plus a line, an order and an invoice detail."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.test import Client
from django.urls import get_resolver

from kaisen.core import clock
from tests.test_browser import ARTIFACTS, browser_page  # noqa: F401  (the fixture)
from tests.test_no_requirement_ids_on_pages import SKIPPED_PREFIXES, _fill, _patterns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1366, 390)
#: The page's own width against the window's: document.documentElement.scrollWidth includes anything that
#: sticks out to the right of the layout (a table, a long word, a form row).
MEASURE = "() => [document.documentElement.scrollWidth, window.innerWidth]"
#: For the failure message: the outermost elements that stick out (their parent does not), as tag.class.
CULPRITS = """() => {
  const w = window.innerWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right <= w + 0.5 || r.width === 0) continue;
    const pr = el.parentElement.getBoundingClientRect();
    if (pr.right > w + 0.5 && el.parentElement !== document.body) continue;
    out.push(el.tagName.toLowerCase() + '.' + [...el.classList].join('.') + ' ' + Math.round(r.right) + 'px');
    if (out.length >= 3) break;
  }
  return out.join(', ');
}"""


def _urls() -> list[str]:
    from kaisen.billing.models import Invoice
    from kaisen.demo import TENANTS
    from kaisen.lines.models import Line
    from kaisen.procedures.models import Order
    from kaisen.tenancy.models import Tenant

    tenant = Tenant.objects.get(public_id=TENANTS[0]["public_id"])
    values: dict[str, Any] = {}
    line = Line.objects.filter(tenant=tenant).order_by("id").first()
    order = Order.objects.filter(tenant=tenant).order_by("id").first()
    invoice = Invoice.objects.filter(tenant=tenant).order_by("id").first()
    assert line is not None and order is not None and invoice is not None, "the demo tenant is incomplete"
    values.update(pk=line.pk, line_id=line.pk, order_id=order.pk, invoice_id=invoice.pk)
    return sorted({url for route, _ in _patterns(get_resolver())
                   if not route.startswith(SKIPPED_PREFIXES) and (url := _fill(route, values))})


def _an_order(tenant: Any, user: Any) -> None:
    """A suspension, so the order pages and the audit log have a procedure to show."""
    from kaisen.lines.models import Line, LineStatus
    from kaisen.procedures.services import order_submit

    line = Line.objects.filter(tenant=tenant, status=LineStatus.ACTIVE).order_by("id").first()
    assert line is not None
    order_submit(tenant=tenant, user=user, line_id=line.pk, kind="suspend", params={}, idempotency_key="layout-1")


def test_no_page_is_wider_than_the_window(live_server, browser_page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from kaisen.accounts.models import User
    from kaisen.demo import TENANTS, demo_create
    from kaisen.tenancy.models import Tenant

    page = browser_page
    with time_machine.travel(dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST), tick=False):
        demo_create(lines=60, seed=7, today=dt.date(2026, 11, 22))
        tenant = Tenant.objects.get(public_id=TENANTS[0]["public_id"])
        root = User.objects.get(tenant=tenant, is_root=True)
        _an_order(tenant, root)
        urls = _urls()
        # Which URLs are pages (HTML, 200) is asked of Django's test client: cheaper than the browser.
        client = Client()
        client.force_login(root)
        pages = [u for u in urls if (r := client.get(u)).status_code == 200 and "html" in r.get("Content-Type", "")]
        only = os.environ.get("KAISEN_LAYOUT_ONLY")  # a comma-separated list of URLs, while fixing a page
        assert len(pages) >= 30 and "/billing/" in pages and "/audit/" in pages, f"the walk is broken: {pages}"
        if only:
            pages = [u for u in pages if u in only.split(",")]
        session = client.session
        assert session[SESSION_KEY] and session[BACKEND_SESSION_KEY] and session[HASH_SESSION_KEY]
        host = live_server.url.split("//", 1)[1].split(":")[0]
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
                                   "domain": host, "path": "/"}])
        too_wide: list[str] = []
        measured = 0
        for lang in ("ja", "en"):
            page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang,
                                       "domain": host, "path": "/"}])
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                for url in pages:
                    response = page.goto(live_server.url + url, wait_until="load")
                    status = response.status if response is not None else None
                    assert status == 200, f"{lang} {url}: {status}"
                    assert "/login" not in page.url, f"{url}: signed out"
                    scroll, inner = page.evaluate(MEASURE)
                    measured += 1
                    if url == "/audit/":  # one short line per entry (the changes open on demand)
                        heights = page.evaluate("() => [...document.querySelectorAll('.audit-table > tbody > tr')]"
                                                ".map(tr => tr.getBoundingClientRect().height)")
                        assert len(heights) >= 5 and max(heights) < 80, f"{lang} {width}px audit rows: {heights}"
                    shots = os.environ.get("KAISEN_LAYOUT_SHOTS", "")  # "1": the wide pages; or a list of URLs
                    if scroll > inner:
                        too_wide.append(f"{lang} {width}px {url}: {scroll}px ({page.evaluate(CULPRITS)})")
                    if (shots and scroll > inner) or url in shots.split(","):
                        ARTIFACTS.mkdir(exist_ok=True)
                        name = url.strip("/").replace("/", "_") or "home"
                        page.screenshot(path=str(ARTIFACTS / f"layout-{lang}-{width}-{name}.png"), full_page=True)
    assert measured == 4 * len(pages) > 0
    assert too_wide == [], "pages wider than the window:\n" + "\n".join(too_wide)
