"""Payments through the web pages and the REST API (issue 4 §5; S-PAY-1..3, T-2)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from kaisen.billing.models import InvoiceStatus
from kaisen.notifications.models import OutboxMessage
from kaisen.payments.models import BillingEmail, Payment, PaymentSetting, SimulatedCharge
from tests.conftest import TenantWorld
from tests.payments.conftest import make_invoice

pytestmark = pytest.mark.django_db

CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder": "TARO KEIRI"}


def web(world: TenantWorld) -> Client:
    client = Client()
    client.force_login(world.user)
    return client


# --- web ---------------------------------------------------------------------------------------------------

def test_pages_render_with_simulator_notice_s_pay_1(tenant_a: TenantWorld) -> None:
    client = web(tenant_a)
    page = client.get("/payments/")
    assert page.status_code == 200
    assert b'data-testid="simulator-banner"' in page.content
    detail = client.get("/payments/japan/")
    assert detail.status_code == 200
    assert b'data-testid="test-cards"' in detail.content and b"4242 4242 4242 4242" in detail.content
    assert client.get("/payments/history/").status_code == 200
    assert client.get("/payments/contacts/").status_code == 200
    assert client.get("/payments/global/").status_code == 404  # a coverage the tenant does not hold


def test_web_card_registration_never_echoes_the_number_s_pay_1(tenant_a: TenantWorld) -> None:
    client = web(tenant_a)
    ok = client.post("/payments/japan/card/", CARD)
    assert ok.status_code == 302
    setting = PaymentSetting.objects.get(tenant=tenant_a.tenant, coverage="japan")
    assert (setting.card_brand, setting.card_last4, setting.method) == ("visa", "4242", "card")
    refused = client.post("/payments/japan/card/", {**CARD, "number": "4000 0566 5566 5556"})  # debit
    assert refused.status_code == 400
    assert b'value="4000 0566 5566 5556"' not in refused.content  # (the simulator's hint list shows it)
    assert b"4000056655665556" not in refused.content
    assert b'name="number" id="id_number" class="form-control is-invalid" value=""' in refused.content
    assert "デビットカード".encode() in refused.content or b"Debit" in refused.content


def test_web_decline_then_retry_after_card_update_s_pay_2(tenant_a: TenantWorld) -> None:
    client = web(tenant_a)
    client.post("/payments/japan/card/", {**CARD, "number": "4000000000000002"})
    inv = make_invoice(tenant_a.tenant)
    from kaisen.payments.services import invoice_charge

    invoice_charge(invoice_id=inv.pk)
    history = client.get("/payments/history/")
    assert f'/payments/invoices/{inv.pk}/retry/'.encode() in history.content
    again = client.post(f"/payments/invoices/{inv.pk}/retry/")  # same declined card
    assert again.status_code == 302
    inv.refresh_from_db()
    assert inv.status == InvoiceStatus.PAYMENT_ERROR
    client.post("/payments/japan/card/", CARD)
    client.post(f"/payments/invoices/{inv.pk}/retry/")
    client.post(f"/payments/invoices/{inv.pk}/retry/")  # a double click
    inv.refresh_from_db()
    assert inv.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=inv, status="succeeded").count() == 1
    assert SimulatedCharge.objects.filter(status="succeeded").count() == 1
    assert OutboxMessage.objects.filter(tenant=tenant_a.tenant, topic="payment.payment_failed").count() == 2
    page = client.get(f"/payments/invoices/{inv.pk}/")
    assert page.status_code == 200 and b'data-testid="invoice-status"' in page.content


def test_web_sixth_billing_email_refused_s_pay_3(tenant_a: TenantWorld) -> None:
    client = web(tenant_a)
    for i in range(5):
        assert client.post("/payments/contacts/add/", {"email": f"k{i}@kaisen-test.co.jp"}).status_code == 302
    sixth = client.post("/payments/contacts/add/", {"email": "k5@kaisen-test.co.jp"})
    assert sixth.status_code == 400
    assert "5件".encode() in sixth.content or b"Up to 5" in sixth.content
    assert BillingEmail.objects.filter(tenant=tenant_a.tenant).count() == 5
    assert b"5/5" in client.get("/payments/contacts/").content


def test_web_invoice_application_free_mail_refused_s_pay_1(tenant_a: TenantWorld) -> None:
    tenant_a.user.email = "owner@kaisen-test.co.jp"
    tenant_a.user.save()
    client = web(tenant_a)
    form = {"company_name": "テスト商事", "contact_name": "経理 太郎", "email": "keiri@gmail.com",
            "phone": "03-1234-5678", "postal_code": "100-0001", "prefecture": "東京都",
            "address": "千代田区千代田1-1", "delivery": "email"}
    refused = client.post("/payments/japan/apply/", form)
    assert refused.status_code == 400
    assert not tenant_a.tenant.invoice_applications.exists()
    ok = client.post("/payments/japan/apply/", {**form, "email": "keiri@kaisen-test.co.jp"})
    assert ok.status_code == 302
    assert tenant_a.tenant.invoice_applications.get().status == "pending"


# --- API ---------------------------------------------------------------------------------------------------

def test_api_method_put_get_and_brand_per_coverage_s_pay_1(tenant_a: TenantWorld) -> None:
    tenant_a.tenant.coverage_global = True
    tenant_a.tenant.save()
    api = tenant_a.api()
    jcb = {**CARD, "number": "3566002020360505"}
    ok = api.request("PUT", "/api/v1/payments/methods/japan", {"card": jcb})
    assert ok.status_code == 200, ok.content
    assert ok.json()["card"]["brand"] == "jcb" and ok.json()["method"] == "card" and ok.json()["simulator"] is True
    refused = api.request("PUT", "/api/v1/payments/methods/global", {"card": jcb})
    assert refused.status_code == 400 and refused.json()["code"] == "CARD_BRAND_NOT_ACCEPTED"
    assert api.get("/api/v1/payments/methods/global").json()["card"] is None
    invoice = api.request("PUT", "/api/v1/payments/methods/japan", {"method": "invoice"})
    assert invoice.status_code == 409 and invoice.json()["code"] == "PAYMENT_METHOD_NOT_ALLOWED"


def test_api_put_is_all_or_nothing(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    r = api.request("PUT", "/api/v1/payments/methods/japan", {"card": CARD, "method": "konbini"})
    assert r.status_code == 409
    assert not PaymentSetting.objects.filter(tenant=tenant_a.tenant).exclude(card_last4="").exists()


def test_api_retry_and_list_s_pay_2(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    api.request("PUT", "/api/v1/payments/methods/japan", {"card": {**CARD, "number": "4000000000000069"}})
    inv = make_invoice(tenant_a.tenant)
    from kaisen.payments.services import invoice_charge

    invoice_charge(invoice_id=inv.pk)
    listed = api.get("/api/v1/payments").json()
    assert listed[0]["status"] == "payment_error" and listed[0]["can_retry"] is True
    assert listed[0]["payments"][0]["status"] == "expired_card"
    api.request("PUT", "/api/v1/payments/methods/japan", {"card": CARD})
    r = api.post(f"/api/v1/payments/invoices/{inv.pk}/retry")
    assert r.status_code == 200 and r.json()["status"] == "paid"
    again = api.post(f"/api/v1/payments/invoices/{inv.pk}/retry")
    assert again.status_code == 409 and again.json()["code"] == "INVOICE_NOT_PAYABLE"
    assert SimulatedCharge.objects.filter(status="succeeded").count() == 1


def test_api_billing_contacts_s_pay_3(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    r = api.request("PUT", "/api/v1/billing-contacts",
                    {"billing_emails": ["a@kaisen-test.co.jp", "b@kaisen-test.co.jp"],
                     "recovery_email": "r@kaisen-test.co.jp"})
    assert r.status_code == 200
    assert r.json()["billing_emails"] == ["a@kaisen-test.co.jp", "b@kaisen-test.co.jp"]
    assert r.json()["recovery_email"] == "r@kaisen-test.co.jp" and r.json()["max_billing_emails"] == 5
    six = api.request("PUT", "/api/v1/billing-contacts",
                      {"billing_emails": [f"x{i}@kaisen-test.co.jp" for i in range(6)], "recovery_email": ""})
    assert six.status_code == 409 and six.json()["code"] == "BILLING_EMAIL_LIMIT"
    after = api.get("/api/v1/billing-contacts").json()
    assert after["billing_emails"] == ["a@kaisen-test.co.jp", "b@kaisen-test.co.jp"]
    assert after["recovery_email"] == "r@kaisen-test.co.jp"  # nothing half-applied


def test_other_tenants_invoice_and_method_are_404_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    tenant_b.tenant.coverage_global = True
    tenant_b.tenant.save()
    inv = make_invoice(tenant_b.tenant, status=InvoiceStatus.PAYMENT_ERROR, month=dt.date(2026, 8, 1))
    email = BillingEmail.objects.create(tenant=tenant_b.tenant, email="b@kaisen-test.co.jp")
    api, client = tenant_a.api(), web(tenant_a)
    for path in (f"/api/v1/payments/invoices/{inv.pk}", "/api/v1/payments/methods/global"):
        r = api.get(path)
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert api.post(f"/api/v1/payments/invoices/{inv.pk}/retry").status_code == 404
    assert client.get(f"/payments/invoices/{inv.pk}/").status_code == 404
    assert client.post(f"/payments/invoices/{inv.pk}/retry/").status_code == 404
    assert client.post(f"/payments/contacts/{email.pk}/remove/").status_code == 404
    assert BillingEmail.objects.filter(pk=email.pk).exists()
    assert inv.number.encode() not in client.get("/payments/history/").content
    assert api.get("/api/v1/payments").json() == []


# --- permissions (issue 5 §1): Billing:read to view, Payment:manage to change ------------------------------

def _limited(world: TenantWorld, role: str | None) -> Client:
    from kaisen.access.services import user_roles_set
    from tests.factories import UserFactory

    user = UserFactory(tenant=world.tenant, is_root=False)
    if role:
        user_roles_set(actor=world.user, user_id=user.pk, roles=[role])
    client = Client()
    client.force_login(user)
    return client


def test_read_only_user_sees_payments_but_cannot_change_them(tenant_a: TenantWorld) -> None:
    inv = make_invoice(tenant_a.tenant, status=InvoiceStatus.PAYMENT_ERROR)
    PaymentSetting.objects.create(tenant=tenant_a.tenant, coverage="japan", method="card", card_token="tok_x",
                                  card_brand="visa", card_last4="4242", card_exp_month=12, card_exp_year=2030)
    client = _limited(tenant_a, "read_only")
    page = client.get("/payments/japan/")
    assert page.status_code == 200
    assert b'action="/payments/japan/card/"' not in page.content  # no card form
    history = client.get("/payments/history/")
    assert history.status_code == 200 and inv.number.encode() in history.content
    assert f"/payments/invoices/{inv.pk}/retry/".encode() not in history.content  # no retry button
    assert client.post("/payments/japan/card/", CARD).status_code == 403
    assert client.post(f"/payments/invoices/{inv.pk}/retry/").status_code == 403
    assert client.post("/payments/contacts/add/", {"email": "x@kaisen-test.co.jp"}).status_code == 403
    assert not Payment.objects.filter(invoice=inv).exists()
    assert not BillingEmail.objects.filter(tenant=tenant_a.tenant).exists()


def test_accounting_user_manages_payments_and_user_without_role_sees_nothing(tenant_a: TenantWorld) -> None:
    accountant = _limited(tenant_a, "accounting")
    assert accountant.post("/payments/contacts/add/", {"email": "k@kaisen-test.co.jp"}).status_code == 302
    assert BillingEmail.objects.filter(tenant=tenant_a.tenant).count() == 1
    nobody = _limited(tenant_a, None)
    assert nobody.get("/payments/").status_code == 403
    assert nobody.get("/payments/contacts/").status_code == 403
