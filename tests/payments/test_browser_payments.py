"""A real browser (Debian's Chromium via Playwright): an invoice in payment error is paid after the user
updates the card and presses "Retry payment" (S-PAY-2), once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kaisen.billing.models import InvoiceStatus
from kaisen.payments import services
from kaisen.payments.models import Payment
from tests.conftest import make_world
from tests.factories import PASSWORD
from tests.payments.conftest import make_invoice
from tests.test_browser import browser_page  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_update_card_and_retry_in_chromium_s_pay_2(live_server, browser_page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    world = make_world(n_lines=1)
    services.card_register(user=world.user, coverage="japan", number="4000000000009995", exp_month=12,
                           exp_year=2030, cvc="123")
    invoice = make_invoice(world.tenant)
    services.invoice_charge(invoice_id=invoice.pk)
    page = browser_page
    page.goto(live_server.url + reverse("accounts:login"))
    page.fill("input[name=operator_id]", world.tenant.public_id)
    page.fill("input[name=username]", world.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_load_state()

    page.goto(live_server.url + reverse("payments:method", kwargs={"coverage": "japan"}))
    assert page.locator("[data-testid=simulator-banner]").is_visible()
    page.fill("input[name=number]", "4242 4242 4242 4242")
    page.fill("input[name=exp_month]", "12")
    page.fill("input[name=exp_year]", "2031")
    page.fill("input[name=cvc]", "123")
    page.locator("form[action$='/card/'] button[type=submit]").click()
    page.wait_for_load_state()
    assert "4242" in page.locator("[data-testid=method-japan]").locator("..").inner_text()

    page.goto(live_server.url + reverse("payments:invoice", kwargs={"invoice_id": invoice.pk}))
    page.locator(f"form[action$='/invoices/{invoice.pk}/retry/'] button").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=invoice-status] .badge").inner_text() in ("支払済", "Paid")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=invoice, status="succeeded").count() == 1
    assert page.locator(f"form[action$='/invoices/{invoice.pk}/retry/']").count() == 0  # no second charge offered
