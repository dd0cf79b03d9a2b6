"""The back office for payments (T-3; issue 4 §5): the operator approves an invoice-payment application,
completes a bank-debit switch and records a received payment, each through the services (audited)."""

from __future__ import annotations

import pytest
from django.test import Client

from kaisen.accounts.services import user_create
from kaisen.audit.models import AuditEvent
from kaisen.billing.models import InvoiceStatus
from kaisen.payments import services
from kaisen.payments.models import BankDebitStatus, InvoiceApplication, PaymentSetting
from tests.conftest import TenantWorld
from tests.payments.conftest import make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = user_create(tenant=None, username="pay_staff_1", password="Staff-password-2026", is_staff=True,
                       is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_back_office_pages_and_actions_t_3_s_pay_1(staff: Client, tenant_a: TenantWorld) -> None:
    for path in ("invoiceapplication", "paymentsetting", "unpaidinvoice", "payment", "simulatedcharge"):
        assert staff.get(f"/admin/payments/{path}/").status_code == 200, path
    tenant_a.user.email = "owner@kaisen-test.co.jp"
    tenant_a.user.save()
    services.card_register(user=tenant_a.user, coverage="japan", number="4242424242424242", exp_month=12,
                           exp_year=2030, cvc="123")
    app = services.invoice_apply(user=tenant_a.user, coverage="japan", company_name="テスト商事", contact_name="経理",
                                 email="keiri@kaisen-test.co.jp", phone="03", postal_code="100-0001",
                                 prefecture="東京都", address="千代田区千代田1-1")
    r = staff.post("/admin/payments/invoiceapplication/", {"action": "approve", "_selected_action": [app.pk]})
    assert r.status_code == 302
    assert InvoiceApplication.objects.get(pk=app.pk).status == "approved"
    setting = PaymentSetting.objects.get(tenant=tenant_a.tenant, coverage="japan")
    assert setting.method == "invoice"
    services.method_set(user=tenant_a.user, coverage="japan", method="bank_debit")
    staff.post("/admin/payments/paymentsetting/", {"action": "bank_debit_complete", "_selected_action": [setting.pk]})
    setting.refresh_from_db()
    assert (setting.bank_debit_status, setting.method) == (BankDebitStatus.ACTIVE, "bank_debit")
    inv = make_invoice(tenant_a.tenant)
    page = staff.get("/admin/payments/unpaidinvoice/")
    assert inv.number.encode() in page.content
    staff.post("/admin/payments/unpaidinvoice/", {"action": "record_receipt", "_selected_action": [inv.pk]})
    inv.refresh_from_db()
    assert inv.status == InvoiceStatus.PAID
    assert inv.number.encode() not in staff.get("/admin/payments/unpaidinvoice/").content
    actions = set(AuditEvent.objects.filter(tenant=tenant_a.tenant).values_list("action", flat=True))
    assert {"payment.invoice_application_decide", "payment.bank_debit_complete", "payment.receipt_record"} <= actions
    assert setting.card_token.startswith("tok_sim_")
    change = staff.get(f"/admin/payments/paymentsetting/{setting.pk}/change/")
    assert change.status_code == 200 and b"4242" in change.content
    assert setting.card_token.encode() not in change.content  # the provider's token is not shown
