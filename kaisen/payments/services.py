"""Payment rules (issue 4 §5; S-PAY-1..3, S-COV-1, S-BILL-1, T-1). Services write; interfaces call them.

Every change is checked (``Payment:manage``), done in one transaction, and audited. Card numbers never reach
the database: ``card_register`` hands the number to the provider (``kaisen.payments.provider``), which
tokenises it; only brand, last 4 digits, expiry and the token are kept.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.services import authorize
from kaisen.audit.services import audit_record, model_diff
from kaisen.billing.models import Invoice, InvoiceStatus
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.mail import mail_after_commit, security_notice
from kaisen.events import catalogue
from kaisen.events.services import event_emit
from kaisen.notifications.services import outbox_add
from kaisen.payments import selectors
from kaisen.payments.models import (
    BRANDS_BY_COVERAGE,
    MAX_BILLING_EMAILS,
    AccountEmails,
    ApplicationStatus,
    BankDebitStatus,
    BillingEmail,
    CardFunding,
    InvoiceApplication,
    InvoiceDelivery,
    Payment,
    PaymentChannel,
    PaymentMethodKind,
    PaymentSetting,
    PaymentStatus,
    accepted_brands_label,
)
from kaisen.payments.provider import CardRefused, card_expired, get_provider
from kaisen.tenancy.models import Tenant, TenantKind

M = PaymentMethodKind
ModelT = TypeVar("ModelT", bound=models.Model)
#: Seed 001 §3.5: switching to bank direct debit takes about 2 months (invoice payment meanwhile).
BANK_DEBIT_LEAD_DAYS = 61

#: Free-mail domains refused for invoice payment (seed 001 §3.3.1 ②: "Gmail などのフリーメールアドレス").
#: Web mail, and the Japanese carriers' phone mail, which is personal too. Subdomains count.
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.co.jp", "yahoo.com", "ymail.com", "rocketmail.com", "outlook.com",
    "outlook.jp", "hotmail.com", "hotmail.co.jp", "live.com", "live.jp", "msn.com", "icloud.com", "me.com",
    "mac.com", "aol.com", "aol.jp", "mail.com", "gmx.com", "gmx.net", "protonmail.com", "proton.me", "pm.me",
    "zoho.com", "yandex.com", "yandex.ru", "tutanota.com", "excite.co.jp", "goo.jp", "mail.goo.ne.jp",
    "livedoor.com", "infoseek.jp", "nifmail.jp", "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp",
    "i.softbank.jp", "ymobile.ne.jp", "rakuten.jp", "qq.com", "163.com", "126.com", "naver.com", "hanmail.net",
})

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県",
    "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県",
    "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県",
    "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県",
    "宮崎県", "鹿児島県", "沖縄県",
)


# --- helpers --------------------------------------------------------------------------------------------

def _tenant(user: Any) -> Tenant:
    tenant = getattr(user, "tenant", None)
    if tenant is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    return tenant


def coverage_check(*, tenant: Tenant, coverage: str) -> str:
    """The coverage, if the tenant holds it (S-COV-1); a coverage it does not hold is NOT_FOUND."""
    if coverage not in Coverage.values or coverage not in tenant.coverages:
        raise NotFound(_("Your account has no such coverage."))
    return coverage


def _get_or_create_locked(model: type[ModelT], **lookup: Any) -> ModelT:
    """The row matching ``lookup``, created if missing (a concurrent creation is fine), locked for update."""
    try:
        with transaction.atomic():
            model._default_manager.get_or_create(**lookup)
    except IntegrityError:  # created concurrently
        pass
    return model._default_manager.select_for_update().get(**lookup)


def _setting_for_update(tenant: Tenant, coverage: str) -> PaymentSetting:
    coverage_check(tenant=tenant, coverage=coverage)
    return _get_or_create_locked(PaymentSetting, tenant=tenant, coverage=coverage)


def _snapshot(s: PaymentSetting) -> dict[str, Any]:
    return {"method": s.method, "card": f"{s.card_brand} ****{s.card_last4}" if s.card_last4 else "",
            "card_expiry": f"{s.card_exp_month or 0:02d}/{s.card_exp_year}" if s.card_exp_year else "",
            "invoice_delivery": s.invoice_delivery, "bank_debit_status": s.bank_debit_status}


def _email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower() if "@" in email else ""


def is_free_mail(email: str) -> bool:
    domain = _email_domain(email)
    return any(domain == d or domain.endswith("." + d) for d in FREE_MAIL_DOMAINS)


def _same_company_domain(domain: str, company: str) -> bool:
    """``sales.example.co.jp`` and ``example.co.jp`` are one company's; ``example-co.jp`` is not."""
    return bool(domain and company) and (domain == company or domain.endswith("." + company)
                                         or company.endswith("." + domain))


def _normalise_email(email: str) -> str:
    email = (email or "").strip()
    local, _sep, domain = email.rpartition("@")
    if not local or not re.fullmatch(r"[^@\s]+", local) or not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}", domain):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Enter a valid email address."), field="email")
    return f"{local}@{domain.lower()}"


# --- reading (Billing:read) ------------------------------------------------------------------------------

def viewer_tenant(*, user: Any) -> Tenant:
    """The user's tenant, if they may see billing and payments (``Billing:read``)."""
    authorize(user=user, action=actions.BILLING_READ)
    return _tenant(user)


@dataclass
class MethodView:
    coverage: str
    setting: PaymentSetting
    application: InvoiceApplication | None
    accepted_brands: tuple[str, ...]
    card_usable: bool
    provider_name: str
    simulator: bool


def method_view(*, user: Any, coverage: str) -> MethodView:
    tenant = viewer_tenant(user=user)
    coverage_check(tenant=tenant, coverage=coverage)
    setting = selectors.payment_setting_get(tenant=tenant, coverage=coverage) or PaymentSetting(
        tenant=tenant, coverage=coverage)
    provider = get_provider()
    return MethodView(coverage=coverage, setting=setting,
                      application=selectors.invoice_application_list(tenant=tenant, coverage=coverage).first(),
                      accepted_brands=BRANDS_BY_COVERAGE[coverage], card_usable=card_usable(setting),
                      provider_name=provider.name, simulator=provider.is_simulator)


def _can_retry(invoice: Invoice, setting: PaymentSetting | None) -> bool:
    return invoice.status == InvoiceStatus.PAYMENT_ERROR and setting is not None and setting.method == M.CARD


def payment_history(*, user: Any, coverage: str | None = None) -> list[tuple[Invoice, bool]]:
    """Issued invoices (newest first) with whether the user can retry their payment."""
    tenant = viewer_tenant(user=user)
    if coverage:
        coverage_check(tenant=tenant, coverage=coverage)
    by_coverage = {s.coverage: s for s in PaymentSetting.objects.filter(tenant=tenant)}
    invoices = selectors.billed_invoices(tenant=tenant, coverage=coverage).prefetch_related("payments")
    return [(inv, _can_retry(inv, by_coverage.get(inv.coverage))) for inv in invoices]


def invoice_payments(*, user: Any, invoice_id: int) -> tuple[Invoice, bool]:
    tenant = viewer_tenant(user=user)
    inv = selectors.invoice_get(tenant=tenant, invoice_id=invoice_id)
    return inv, _can_retry(inv, selectors.payment_setting_get(tenant=tenant, coverage=inv.coverage))


@dataclass
class ContactsView:
    primary_email: str
    recovery_email: str
    billing_emails: list[str]
    billing_email_rows: list[BillingEmail]
    max_billing_emails: int = MAX_BILLING_EMAILS


def contacts_view(*, user: Any) -> ContactsView:
    tenant = viewer_tenant(user=user)
    rows = list(selectors.billing_email_list(tenant=tenant))
    return ContactsView(primary_email=selectors.primary_email(tenant=tenant),
                        recovery_email=selectors.recovery_email(tenant=tenant),
                        billing_emails=[r.email for r in rows], billing_email_rows=rows)


# --- S-PAY-1: the card -----------------------------------------------------------------------------------

def card_register(*, user: Any, coverage: str, number: str, exp_month: int, exp_year: int, cvc: str,
                  holder: str = "") -> PaymentSetting:
    """Register (or replace) the card of a coverage. The provider tokenises the number; brand per coverage
    (Japan VISA/Mastercard/JCB/AMEX, Global VISA/Mastercard/AMEX); debit and prepaid refused. The card
    becomes the payment method unless the coverage pays by invoice, bank debit or slip (then the card is
    kept on file and ``method_set(card)`` switches)."""
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    coverage_check(tenant=tenant, coverage=coverage)
    today = clock.today_jst()
    try:
        card = get_provider().tokenize_card(number=number, exp_month=int(exp_month), exp_year=int(exp_year),
                                            cvc=str(cvc or ""), today=today)
    except CardRefused as exc:
        audit_record(action="payment.card_register", tenant=tenant, user=user, success=False,
                     changes={"coverage": [None, coverage], "reason": [None, exc.reason]})
        if exc.reason == "expired_card":
            raise DomainError(ErrorCode.CARD_EXPIRED, field="exp_year") from None
        field = {"invalid_number": "number", "invalid_expiry": "exp_month", "invalid_cvc": "cvc"}.get(exc.reason)
        raise DomainError(ErrorCode.CARD_REFUSED, field=field) from None
    if card.funding != CardFunding.CREDIT:
        raise DomainError(ErrorCode.CARD_TYPE_NOT_ACCEPTED, field="number")
    if card.brand not in BRANDS_BY_COVERAGE[coverage]:
        raise DomainError(ErrorCode.CARD_BRAND_NOT_ACCEPTED,
                          _("This card brand is not accepted for this coverage. Accepted: %(brands)s.")
                          % {"brands": accepted_brands_label(coverage)}, field="number")
    with transaction.atomic():
        setting = _setting_for_update(tenant, coverage)
        before = _snapshot(setting)
        setting.card_token, setting.card_brand, setting.card_last4 = card.token, card.brand, card.last4
        setting.card_exp_month, setting.card_exp_year = card.exp_month, card.exp_year
        setting.card_holder = (holder or "").strip()[:100]
        setting.card_registered_at = clock.now()
        if setting.method in ("", M.CARD):
            setting.method = M.CARD
        setting.updated_by = user
        setting.save()
        audit_record(action="payment.card_register", tenant=tenant, user=user, target=setting,
                     changes={"coverage": [coverage, coverage], **model_diff(before, _snapshot(setting))})
        security_notice(user, _("Payment card registered"),
                        _("A %(brand)s card ending in %(last4)s was registered as the payment card of the "
                          "%(coverage)s coverage of %(operator)s. If you did not do this, contact your "
                          "administrator.") % {"brand": setting.get_card_brand_display(), "last4": card.last4,
                                               "coverage": Coverage(coverage).label, "operator": tenant.public_id})
    return setting


def card_usable(setting: PaymentSetting | None, *, today: dt.date | None = None) -> bool:
    return bool(setting and setting.card_token and setting.card_exp_month and setting.card_exp_year
                and not card_expired(setting.card_exp_month, setting.card_exp_year, today or clock.today_jst()))


# --- S-PAY-1: choosing the method ------------------------------------------------------------------------

def method_set(*, user: Any, coverage: str, method: str, delivery: str | None = None) -> PaymentSetting:
    """Choose the payment method of a coverage.

    * ``card``: a valid card must be on file.
    * ``invoice``: corporate tenants only (T-1), after the operator approved the application.
      ``delivery`` email or post (¥200 per mailing).
    * ``bank_debit``: after invoice payment is approved; requests the switch, which takes about 2 months —
      the status is *pending* with an expected date, invoice payment stays in force until the operator
      records the switch complete (``bank_debit_complete``).
    * ``konbini``: convenience-store slip, mailed with a postal invoice (so the delivery becomes post).
    """
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    if method not in M.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown payment method."), field="method")
    if delivery is not None and delivery not in InvoiceDelivery.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown invoice delivery."), field="delivery")
    with transaction.atomic():
        setting = _setting_for_update(tenant, coverage)
        before = _snapshot(setting)
        if method != M.CARD:
            if tenant.kind != TenantKind.CORPORATE:
                raise DomainError(ErrorCode.PAYMENT_METHOD_NOT_ALLOWED,
                                  _("Individual accounts can only pay by credit card."), field="method")
            if not setting.invoice_approved:
                raise DomainError(ErrorCode.PAYMENT_METHOD_NOT_ALLOWED,
                                  _("Apply for invoice payment first: bank direct debit and the convenience-store "
                                    "slip are available once invoice payment is approved."), field="method")
        if method == M.CARD:
            if not card_usable(setting):
                raise DomainError(ErrorCode.NO_CARD_ON_FILE, field="method")
            setting.method = M.CARD
        elif method == M.INVOICE:
            setting.method = M.INVOICE
            if delivery:
                setting.invoice_delivery = delivery
        elif method == M.KONBINI:
            setting.method = M.KONBINI
            setting.invoice_delivery = InvoiceDelivery.POST
        elif method == M.BANK_DEBIT:
            if setting.bank_debit_status == BankDebitStatus.NONE:
                today = clock.today_jst()
                setting.bank_debit_status = BankDebitStatus.PENDING
                setting.bank_debit_requested_on = today
                setting.bank_debit_expected_on = today + dt.timedelta(days=BANK_DEBIT_LEAD_DAYS)
                setting.method = M.INVOICE  # seed 001 §3.5: invoice until the switch is complete
            elif setting.bank_debit_status == BankDebitStatus.ACTIVE:
                setting.method = M.BANK_DEBIT
        setting.updated_by = user
        setting.save()
        audit_record(action="payment.method_set", tenant=tenant, user=user, target=setting,
                     changes=model_diff(before, _snapshot(setting)))
    return setting


def bank_debit_complete(*, staff: Any, setting_id: int, effective_on: dt.date | None = None) -> PaymentSetting:
    """Back office: the collection agency confirmed the bank direct debit; it applies from ``effective_on``."""
    with transaction.atomic():
        setting = PaymentSetting.objects.select_for_update().get(pk=setting_id)
        if setting.bank_debit_status != BankDebitStatus.PENDING:
            raise DomainError(ErrorCode.PAYMENT_METHOD_NOT_ALLOWED, _("No bank direct debit switch is pending."))
        before = _snapshot(setting)
        setting.bank_debit_status = BankDebitStatus.ACTIVE
        setting.bank_debit_effective_on = effective_on or clock.today_jst()
        setting.method = M.BANK_DEBIT
        setting.save()
        audit_record(action="payment.bank_debit_complete", tenant=setting.tenant, user=staff, target=setting,
                     changes=model_diff(before, _snapshot(setting)))
        _mail_tenant(setting.tenant, "bank_debit_active", {"setting": setting})
    return setting


# --- S-PAY-1: the application for invoice payment --------------------------------------------------------

def _company_domain(tenant: Tenant) -> str:
    return _email_domain(selectors.primary_email(tenant=tenant) or tenant.contact_email)


def postal_address_check(*, postal_code: str, prefecture: str, address: str) -> str:
    """Seed 001 §3.3.1 (E1999507): the postal code must exist in Japan Post's data and match the
    prefecture and the address; the address is given without the prefecture. Returns ``NNN-NNNN``."""
    from kaisen.payments.postal import postal_entry

    digits = re.sub(r"[^0-9]", "", (postal_code or "").translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if len(digits) != 7:
        raise DomainError(ErrorCode.INVALID_POSTAL_ADDRESS, _("Enter the postal code as 7 digits (e.g. 100-0001)."),
                          field="postal_code")
    try:
        entry = postal_entry(digits)
    except KeyError:
        raise DomainError(ErrorCode.INVALID_POSTAL_ADDRESS,
                          _("This postal code is not in Japan Post's postal code data. Enter the area postal code "
                            "and write the individual one in the remarks."), field="postal_code") from None
    address = (address or "").strip().replace("　", "")
    if prefecture != entry.prefecture:
        raise DomainError(ErrorCode.INVALID_POSTAL_ADDRESS,
                          _("The postal code and the prefecture do not match."), field="prefecture")
    if any(address.startswith(p) for p in PREFECTURES):
        raise DomainError(ErrorCode.INVALID_POSTAL_ADDRESS,
                          _("Write the address without the prefecture (from the city on)."), field="address")
    if not address.startswith(entry.city.replace("　", "")):
        raise DomainError(ErrorCode.INVALID_POSTAL_ADDRESS,
                          _("The postal code and the address do not match."), field="address")
    return f"{digits[:3]}-{digits[3:]}"


def invoice_apply(*, user: Any, coverage: str, company_name: str, contact_name: str, email: str, phone: str,
                  postal_code: str, prefecture: str, address: str, delivery: str = InvoiceDelivery.EMAIL,
                  department: str = "", note: str = "") -> InvoiceApplication:
    """Apply for invoice payment (seed 001 §3.3.1): corporate tenants only; the account's and the invoice's
    email addresses must be the company's (no free mail, same domain); postal code and address checked.
    The operator then approves or rejects it in the back office (the credit check)."""
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    coverage_check(tenant=tenant, coverage=coverage)
    if tenant.kind != TenantKind.CORPORATE:
        raise DomainError(ErrorCode.PAYMENT_METHOD_NOT_ALLOWED,
                          _("Invoice payment is for corporate accounts only; individual accounts pay by card."))
    if delivery not in InvoiceDelivery.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown invoice delivery."), field="delivery")
    for name, value in (("company_name", company_name), ("contact_name", contact_name), ("phone", phone)):
        if not (value or "").strip():
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("This field is required."), field=name)
    email = _normalise_email(email)
    account_email = selectors.primary_email(tenant=tenant) or tenant.contact_email
    if is_free_mail(email) or is_free_mail(account_email):
        raise DomainError(ErrorCode.FREE_MAIL_NOT_ACCEPTED,
                          _("Free email addresses (Gmail etc.) cannot be used for invoice payment: the account's "
                            "and the invoice's email addresses must be on your company's domain."), field="email")
    company = _company_domain(tenant)
    if not _same_company_domain(_email_domain(email), company):
        raise DomainError(ErrorCode.EMAIL_DOMAIN_MISMATCH,
                          _("The invoice email address must be on your company's domain (%(domain)s).")
                          % {"domain": company}, field="email")
    postal = postal_address_check(postal_code=postal_code, prefecture=prefecture, address=address)
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        if InvoiceApplication.objects.filter(tenant=tenant, coverage=coverage,
                                             status=ApplicationStatus.PENDING).exists():
            raise DomainError(ErrorCode.APPLICATION_PENDING)
        app = InvoiceApplication.objects.create(
            tenant=tenant, coverage=coverage, company_name=company_name.strip()[:200],
            department=(department or "").strip()[:100], contact_name=contact_name.strip()[:100], email=email,
            phone=phone.strip()[:20], postal_code=postal, prefecture=prefecture,
            address=address.strip().replace("　", "")[:200], delivery=delivery, note=(note or "").strip()[:500],
            applied_by=user)
        audit_record(action="payment.invoice_apply", tenant=tenant, user=user, target=app,
                     changes={"coverage": [None, coverage], "email": [None, email], "delivery": [None, delivery]})
    return app


def invoice_application_decide(*, staff: Any, application_id: int, approve: bool,
                               reason: str = "") -> InvoiceApplication:
    """Back office: approve (credit check passed) or reject an application. Approval switches the coverage
    to invoice payment with the application's delivery and address; the tenant is mailed either way."""
    with transaction.atomic():
        app = InvoiceApplication.objects.select_for_update().filter(pk=application_id).first()
        if app is None:
            raise NotFound()
        if app.status != ApplicationStatus.PENDING:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("This application has already been decided."))
        app.status = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
        app.decided_at, app.decided_by, app.decision_reason = clock.now(), staff, (reason or "").strip()[:500]
        app.save()
        if approve:
            setting = _setting_for_update(app.tenant, app.coverage)
            before = _snapshot(setting)
            setting.invoice_approved = True
            setting.invoice_email = app.email
            setting.invoice_delivery = app.delivery
            if setting.method in ("", M.CARD):
                setting.method = M.INVOICE
            setting.save()
            audit_record(action="payment.method_set", tenant=app.tenant, user=staff, target=setting,
                         changes=model_diff(before, _snapshot(setting)))
        audit_record(action="payment.invoice_application_decide", tenant=app.tenant, user=staff, target=app,
                     changes={"status": [ApplicationStatus.PENDING, app.status]}, reason=app.decision_reason)
        _mail_tenant(app.tenant, "invoice_approved" if approve else "invoice_rejected", {"application": app},
                     extra=[app.email])
    return app


# --- S-PAY-2: charging, failure, retry, receipts --------------------------------------------------------

def idempotency_key_for(invoice: Invoice) -> str:
    return f"kaisen-invoice-{invoice.pk}"


def charge_amount(invoice: Invoice) -> tuple[Decimal, str]:
    """What is collected: Japan in JPY; Global's USD amount converted to JPY at the month's TTS rate
    (S-COV-1), i.e. ``total_jpy``."""
    if invoice.currency == "JPY":
        return invoice.total, "JPY"
    return Decimal(invoice.total_jpy), "JPY"


def invoice_charge(*, invoice_id: int, user: Any = None, trigger: str = "run") -> Payment:
    """Charge one card invoice. Under the invoice's row lock: a paid invoice is never charged again, the
    provider call carries the invoice's idempotency key (a lost answer retried is recognised), a succeeded
    payment is unique per invoice in the database. Success → ``paid``; failure → ``payment_error`` and the
    failure notice (every unpaid invoice) to the billing addresses (S-PAY-2)."""
    with transaction.atomic():
        invoice = (Invoice.objects.select_for_update(of=("self",)).select_related("tenant")
                   .filter(pk=invoice_id).first())
        if invoice is None:
            raise NotFound(_("No such invoice."))
        tenant = invoice.tenant
        if invoice.status not in (InvoiceStatus.INVOICED, InvoiceStatus.PAYMENT_ERROR) or \
                Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED).exists():
            raise DomainError(ErrorCode.INVOICE_NOT_PAYABLE,
                              _("Invoice %(number)s is %(status)s: only an issued, unpaid invoice can be charged.")
                              % {"number": invoice, "status": invoice.get_status_display()})
        setting = selectors.payment_setting_get(tenant=tenant, coverage=invoice.coverage)
        if setting is None or setting.method != M.CARD:
            raise DomainError(ErrorCode.PAYMENT_METHOD_NOT_ALLOWED,
                              _("This invoice is not paid by card: it is paid by invoice, bank debit or slip, and "
                                "marked paid when the payment is received."))
        if not setting.card_token:
            raise DomainError(ErrorCode.NO_CARD_ON_FILE)
        amount, currency = charge_amount(invoice)
        provider = get_provider()
        key = idempotency_key_for(invoice)
        result = provider.charge(token=setting.card_token, amount=amount, currency=currency, idempotency_key=key,
                                 today=clock.today_jst())
        status = PaymentStatus.SUCCEEDED if result.succeeded else (
            PaymentStatus.EXPIRED_CARD if result.failure_code == "expired_card" else
            PaymentStatus.DECLINED if result.failure_code in ("card_declined", "insufficient_funds") else
            PaymentStatus.ERROR)
        payment = Payment.objects.create(
            tenant=tenant, invoice=invoice, channel=PaymentChannel.CARD, method=M.CARD, status=status,
            amount=amount, currency=currency, card_brand=setting.card_brand, card_last4=setting.card_last4,
            provider=provider.name, provider_charge_id=result.charge_id, idempotency_key=key,
            failure_code=result.failure_code,
            trigger=trigger[:16], requested_by=user if getattr(user, "pk", None) else None)
        before = invoice.status
        invoice.status = InvoiceStatus.PAID if result.succeeded else InvoiceStatus.PAYMENT_ERROR
        invoice.save(update_fields=["status", "updated_at"])
        audit_record(action="payment.charge", tenant=tenant, user=user, actor=None if user else "system",
                     target=invoice, success=result.succeeded,
                     changes={"status": [before, invoice.status], "payment": [None, payment.pk],
                              "failure_code": [None, result.failure_code or None], "trigger": [None, trigger]})
        if not result.succeeded:
            payment_failure_notice(tenant=tenant, failed=payment)
        event_emit(tenant_id=tenant.pk,
                   type=catalogue.PAYMENT_SUCCEEDED if result.succeeded else catalogue.PAYMENT_FAILED,
                   data={"invoice_id": invoice.pk, "invoice_number": invoice.number, "payment_id": payment.pk,
                         "amount": str(amount), "currency": currency, "failure_code": result.failure_code or ""})
    return payment


def invoice_retry(*, user: Any, invoice_id: int, channel: str = "web") -> Payment:
    """S-PAY-2: the user retries an invoice in payment error (after updating the card)."""
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    invoice = selectors.invoice_get(tenant=tenant, invoice_id=invoice_id)
    return invoice_charge(invoice_id=invoice.pk, user=user, trigger=f"retry_{channel}"[:16])


def charge_due(*, today: dt.date | None = None, limit: int = 1000) -> dict[str, int]:
    """The charging run (S-BILL-1: card invoices are charged early in the month after the close, once
    issued). Charges every issued card invoice (status ``invoiced``, issue date reached) that has no payment
    attempt yet; invoices in payment error wait for the customer's retry. Safe to run from several processes
    (row lock per invoice, skip the ones another run holds)."""
    today = today or clock.today_jst()
    by_card = PaymentSetting.objects.filter(tenant=OuterRef("tenant"), coverage=OuterRef("coverage"), method=M.CARD)
    due = (Invoice.objects.filter(status=InvoiceStatus.INVOICED, issued_on__lte=today)
           .filter(Exists(by_card)).exclude(Exists(Payment.objects.filter(invoice=OuterRef("pk"))))
           .order_by("issued_on", "pk"))
    counts = {"charged": 0, "paid": 0, "failed": 0, "skipped": 0}
    for invoice in list(due[:limit]):
        try:
            with transaction.atomic():
                locked = Invoice.objects.select_for_update(skip_locked=True).filter(pk=invoice.pk).first()
                if locked is None or locked.status != InvoiceStatus.INVOICED or locked.payments.exists():
                    counts["skipped"] += 1
                    continue
                payment = invoice_charge(invoice_id=invoice.pk, trigger="run")
        except DomainError:
            counts["skipped"] += 1
            continue
        counts["charged"] += 1
        counts["paid" if payment.status == PaymentStatus.SUCCEEDED else "failed"] += 1
    return counts


def charge_due_job() -> int:
    """The scheduler's periodic job (``kaisen.core.periodic``)."""
    return charge_due()["charged"]


def receipt_record(*, staff: Any, invoice_id: int, note: str = "") -> Payment:
    """Back office / ``kaisen admin payments record-receipt``: the payment of an invoice paid by invoice, bank
    debit or convenience-store slip was received; the invoice becomes ``paid``. Never twice."""
    with transaction.atomic():
        invoice = (Invoice.objects.select_for_update(of=("self",)).select_related("tenant")
                   .filter(pk=invoice_id).first())
        if invoice is None:
            raise NotFound(_("No such invoice."))
        if invoice.status not in (InvoiceStatus.INVOICED, InvoiceStatus.PAYMENT_ERROR):
            raise DomainError(ErrorCode.INVOICE_NOT_PAYABLE,
                              _("Invoice %(number)s is %(status)s: only an issued, unpaid invoice can be marked "
                                "paid.") % {"number": invoice, "status": invoice.get_status_display()})
        setting = selectors.payment_setting_get(tenant=invoice.tenant, coverage=invoice.coverage)
        amount, currency = charge_amount(invoice)
        payment = Payment.objects.create(
            tenant=invoice.tenant, invoice=invoice, channel=PaymentChannel.RECEIPT,
            method=(setting.method if setting and setting.method else M.INVOICE), status=PaymentStatus.SUCCEEDED,
            amount=amount, currency=currency, trigger="receipt", note=(note or "")[:300],
            requested_by=staff if getattr(staff, "pk", None) else None)
        before = invoice.status
        invoice.status = InvoiceStatus.PAID
        invoice.save(update_fields=["status", "updated_at"])
        audit_record(action="payment.receipt_record", tenant=invoice.tenant, user=staff,
                     actor=None if getattr(staff, "pk", None) else "operator", target=invoice,
                     changes={"status": [before, InvoiceStatus.PAID], "payment": [None, payment.pk]},
                     reason=note)
    return payment


def _mail_tenant(tenant: Tenant, topic: str, context: dict[str, Any], *, extra: list[str] | None = None) -> None:
    to = list(dict.fromkeys(selectors.billing_emails(tenant=tenant) + [e for e in (extra or []) if e]))
    if not to:
        return
    with translation.override("ja"):  # the mails are written in Japanese (English summary at the end)
        body = render_to_string(f"emails/payments/{topic}.txt", {"tenant": tenant, **context})
    subject, _sep, text = body.partition("\n")
    outbox_add(tenant=tenant, order=None, topic=f"payment.{topic}", to=to, subject=subject.strip(),
               body=text.lstrip("\n"))


def payment_failure_notice(*, tenant: Tenant, failed: Payment) -> None:
    """S-PAY-2 / seed 001 §3.8.1: mail the billing addresses every unpaid invoice of the tenant and how to
    retry. Sent after commit, with the failure that prompted it."""
    unpaid = list(selectors.unpaid_invoices(tenant=tenant))
    _mail_tenant(tenant, "payment_failed", {"failed": failed, "unpaid": unpaid,
                                            "total": {c: sum((i.total for i in unpaid if i.currency == c), Decimal(0))
                                                      for c in {i.currency for i in unpaid}}})


# --- S-PAY-3: billing emails, recovery email ------------------------------------------------------------

def _contacts_notice(user: Any, tenant: Tenant, what: str) -> None:
    security_notice(user, _("Billing contact addresses changed"),
                    _("%(what)s for operator %(operator)s. If you did not do this, contact your administrator.")
                    % {"what": what, "operator": tenant.public_id})


def billing_email_add(*, user: Any, email: str) -> BillingEmail:
    """Add a billing address (請求メールアドレス); at most 5 (S-PAY-3): the 6th is refused."""
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    email = _normalise_email(email)
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # serialise the count check
        existing = BillingEmail.objects.filter(tenant=tenant)
        if existing.filter(email__iexact=email).exists():
            raise DomainError(ErrorCode.DUPLICATE, _("This address is already registered."), field="email")
        if existing.count() >= MAX_BILLING_EMAILS:
            raise DomainError(ErrorCode.BILLING_EMAIL_LIMIT, field="email")
        row = BillingEmail.objects.create(tenant=tenant, email=email)
        audit_record(action="billing_email.add", tenant=tenant, user=user, target=row, changes={"email": [None, email]})
        _contacts_notice(user, tenant, _("The billing address %(email)s was added") % {"email": email})
    return row


def billing_email_remove(*, user: Any, email_id: int) -> None:
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    with transaction.atomic():
        row = BillingEmail.objects.select_for_update().filter(tenant=tenant, pk=email_id).first()
        if row is None:
            raise NotFound()
        audit_record(action="billing_email.remove", tenant=tenant, user=user, target=row,
                     changes={"email": [row.email, None]})
        _contacts_notice(user, tenant, _("The billing address %(email)s was removed") % {"email": row.email})
        row.delete()


def billing_emails_replace(*, user: Any, emails: list[str]) -> list[str]:
    """PUT semantics for the API: the list becomes exactly ``emails`` (at most 5), all or nothing."""
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    wanted = list(dict.fromkeys(_normalise_email(e) for e in emails))
    if len(wanted) > MAX_BILLING_EMAILS:
        raise DomainError(ErrorCode.BILLING_EMAIL_LIMIT, field="billing_emails")
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        current = list(BillingEmail.objects.filter(tenant=tenant).order_by("id"))
        have = {r.email.lower(): r for r in current}
        for row in current:
            if row.email.lower() not in {w.lower() for w in wanted}:
                row.delete()
        for email in wanted:
            if email.lower() not in have:
                BillingEmail.objects.create(tenant=tenant, email=email)
        before, after = [r.email for r in current], wanted
        if before != after:
            audit_record(action="billing_email.replace", tenant=tenant, user=user,
                         changes={"billing_emails": [before, after]})
            _contacts_notice(user, tenant, _("The billing addresses were changed to: %(emails)s")
                             % {"emails": ", ".join(after) or "-"})
    return [r.email for r in BillingEmail.objects.filter(tenant=tenant).order_by("id")]


def recovery_email_set(*, user: Any, email: str) -> str:
    """Set (or clear, with "") the recovery address (S-PAY-3, seed 001 §7.3.1). The old address is told."""
    authorize(user=user, action=actions.PAYMENT_MANAGE)
    tenant = _tenant(user)
    email = _normalise_email(email) if (email or "").strip() else ""
    with transaction.atomic():
        row = _get_or_create_locked(AccountEmails, tenant=tenant)
        old = row.recovery_email
        if old == email:
            return email
        row.recovery_email = email
        row.save()
        audit_record(action="recovery_email.set", tenant=tenant, user=user, target=row,
                     changes={"recovery_email": [old or None, email or None]})
        _contacts_notice(user, tenant, _("The recovery address was changed from %(old)s to %(new)s")
                         % {"old": old or "-", "new": email or "-"})
        if old:
            mail_after_commit(to=[old], subject="[Kaisen] " + _("Recovery address changed"),
                              body=_("This address is no longer the recovery address of operator %(operator)s.")
                              % {"operator": tenant.public_id})
    return email
