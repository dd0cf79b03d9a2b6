"""Payment methods, payments and billing contacts (issue 4 §5; S-PAY-1..3, S-COV-1, T-1).

* ``PaymentSetting`` — one per tenant and coverage (S-COV-1: payment settings are per coverage): the
  method in force (card / invoice / bank direct debit / convenience-store slip), the registered card as
  the provider returned it (brand, last 4 digits, expiry, the provider's token — never the number), the
  invoice delivery (email or post, ¥200 per mailing) and a pending switch to bank direct debit with its
  expected and actual effective date (about 2 months, seed 001 §3.5).
* ``InvoiceApplication`` — the application for invoice payment (corporate tenants only) that the
  operator approves or rejects in the back office after the credit check (seed 001 §3.3).
* ``Payment`` — one row per attempt to collect an invoice (a card charge, or a receipt the operator
  recorded); at most one succeeded payment per invoice (a partial unique constraint), so an invoice is
  never charged twice.
* ``SimulatedCard`` / ``SimulatedCharge`` — the ledger of the payment-provider SIMULATOR
  (``kaisen.payments.provider.SimulatorProvider``): what a real provider would hold on its side.
* ``BillingEmail`` (up to 5 per tenant) and ``AccountEmails`` (the recovery address) — S-PAY-3.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kaisen.billing.models import Invoice
from kaisen.carriers.models import Coverage

MAX_BILLING_EMAILS = 5  # S-PAY-3
POSTAL_INVOICE_FEE_JPY = 200  # seed 001 §3.3.1 / §3.6: 郵送（別途送料 200 円 / 通）


class PaymentMethodKind(models.TextChoices):
    CARD = "card", _("Credit card")
    INVOICE = "invoice", _("Invoice payment")
    BANK_DEBIT = "bank_debit", _("Bank direct debit")
    KONBINI = "konbini", _("Convenience-store slip")


class CardBrand(models.TextChoices):
    VISA = "visa", "VISA"
    MASTERCARD = "mastercard", "Mastercard"
    JCB = "jcb", "JCB"
    AMEX = "amex", "AMEX"
    DINERS = "diners", "Diners Club"
    DISCOVER = "discover", "Discover"
    UNKNOWN = "unknown", _("Unknown")


#: S-PAY-1: the brands accepted per coverage (seed 001 §3.2.1).
BRANDS_BY_COVERAGE: dict[str, tuple[str, ...]] = {
    Coverage.JAPAN: (CardBrand.VISA, CardBrand.MASTERCARD, CardBrand.JCB, CardBrand.AMEX),
    Coverage.GLOBAL: (CardBrand.VISA, CardBrand.MASTERCARD, CardBrand.AMEX),
}


def accepted_brands_label(coverage: str) -> str:
    """The brands accepted for ``coverage`` as shown to users: "VISA, Mastercard, JCB, AMEX"."""
    return ", ".join(str(CardBrand(b).label) for b in BRANDS_BY_COVERAGE[coverage])


class CardFunding(models.TextChoices):
    CREDIT = "credit", _("Credit")
    DEBIT = "debit", _("Debit")
    PREPAID = "prepaid", _("Prepaid")


class InvoiceDelivery(models.TextChoices):
    EMAIL = "email", _("By email")
    POST = "post", _("Post (¥200 per mailing)")


class BankDebitStatus(models.TextChoices):
    NONE = "", _("Not requested")
    PENDING = "pending", _("Switch requested (about 2 months)")
    ACTIVE = "active", _("Active")


class PaymentSetting(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="payment_settings")
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices)
    method = models.CharField(_("payment method"), max_length=16, choices=PaymentMethodKind.choices, blank=True,
                              help_text=_("Blank until a method is registered."))
    # The card as the provider returned it when it tokenised the number (which is never stored here).
    card_token = models.CharField(_("card token (provider)"), max_length=64, blank=True)
    card_brand = models.CharField(_("card brand"), max_length=16, choices=CardBrand.choices, blank=True)
    card_last4 = models.CharField(_("last 4 digits"), max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(_("expiry month"), null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(_("expiry year"), null=True, blank=True)
    card_holder = models.CharField(_("card holder"), max_length=100, blank=True)
    card_registered_at = models.DateTimeField(_("card registered at"), null=True, blank=True)
    # Invoice payment (approved application) and its delivery.
    invoice_approved = models.BooleanField(_("invoice payment approved"), default=False)
    invoice_delivery = models.CharField(_("invoice delivery"), max_length=8, choices=InvoiceDelivery.choices,
                                        default=InvoiceDelivery.EMAIL)
    invoice_email = models.EmailField(_("invoice email"), blank=True)
    # Bank direct debit: requested → pending (about 2 months, invoice meanwhile) → active from a date.
    bank_debit_status = models.CharField(_("bank direct debit"), max_length=8, choices=BankDebitStatus.choices,
                                         default=BankDebitStatus.NONE, blank=True)
    bank_debit_requested_on = models.DateField(_("bank debit requested on"), null=True, blank=True)
    bank_debit_expected_on = models.DateField(_("bank debit expected from"), null=True, blank=True)
    bank_debit_effective_on = models.DateField(_("bank debit effective from"), null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment setting")
        verbose_name_plural = _("payment settings")
        ordering = ["tenant", "coverage"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "coverage"], name="paymentsetting_tenant_coverage"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.coverage}: {self.method or '-'}"

    @property
    def is_postal(self) -> bool:
        """Invoices of this coverage are mailed on paper (¥200 per mailing)."""
        return self.method in (PaymentMethodKind.INVOICE, PaymentMethodKind.KONBINI) and (
            self.invoice_delivery == InvoiceDelivery.POST or self.method == PaymentMethodKind.KONBINI)


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("Under review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class InvoiceApplication(models.Model):
    """An application for invoice payment (seed 001 §3.3.1), reviewed by the operator (credit check)."""

    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="invoice_applications")
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices)
    status = models.CharField(_("status"), max_length=12, choices=ApplicationStatus.choices,
                              default=ApplicationStatus.PENDING)
    company_name = models.CharField(_("company name"), max_length=200)
    department = models.CharField(_("department"), max_length=100, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=100)
    email = models.EmailField(_("invoice email"))
    phone = models.CharField(_("phone"), max_length=20)
    postal_code = models.CharField(_("postal code"), max_length=8)
    prefecture = models.CharField(_("prefecture"), max_length=8)
    address = models.CharField(_("address (after the prefecture)"), max_length=200)
    delivery = models.CharField(_("invoice delivery"), max_length=8, choices=InvoiceDelivery.choices,
                                default=InvoiceDelivery.EMAIL)
    note = models.CharField(_("remarks"), max_length=500, blank=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decision_reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("applied at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice payment application")
        verbose_name_plural = _("invoice payment applications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "coverage"], condition=models.Q(status="pending"),
                                    name="invoiceapp_one_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.coverage} {self.company_name} ({self.status})"


class PaymentStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    DECLINED = "declined", _("Declined")
    EXPIRED_CARD = "expired_card", _("Card expired")
    ERROR = "error", _("Provider error")


#: What a provider failure code means, shown in the user's language (pages) or in Japanese (mails).
FAILURE_LABELS = {
    "card_declined": _("The card was declined."),
    "insufficient_funds": _("The card's limit is exceeded."),
    "expired_card": _("The card has expired."),
    "processing_error": _("The payment provider could not process the charge."),
}


class PaymentChannel(models.TextChoices):
    CARD = "card", _("Card charge")
    RECEIPT = "receipt", _("Receipt recorded by the operator")


class Payment(models.Model):
    """One attempt to collect an invoice."""

    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="payments")
    invoice = models.ForeignKey("billing.Invoice", verbose_name=_("invoice"), on_delete=models.PROTECT,
                                related_name="payments")
    channel = models.CharField(_("channel"), max_length=8, choices=PaymentChannel.choices)
    method = models.CharField(_("payment method"), max_length=16, choices=PaymentMethodKind.choices)
    status = models.CharField(_("result"), max_length=16, choices=PaymentStatus.choices)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    card_brand = models.CharField(_("card brand"), max_length=16, blank=True)
    card_last4 = models.CharField(_("last 4 digits"), max_length=4, blank=True)
    provider = models.CharField(_("provider"), max_length=32, blank=True)
    provider_charge_id = models.CharField(_("provider charge ID"), max_length=64, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=40, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=300, blank=True,
                                       help_text=_("The provider's own words, if it gave any."))
    note = models.CharField(_("note"), max_length=300, blank=True, help_text=_("The operator's note of a receipt."))
    trigger = models.CharField(_("trigger"), max_length=16, blank=True,
                               help_text=_("charge-due run, retry (web/API/CLI) or operator receipt."))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(_("attempted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice"], condition=models.Q(status="succeeded"),
                                    name="payment_one_success_per_invoice"),
        ]
        indexes = [models.Index(fields=["tenant", "invoice"], name="payment_tenant_invoice")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.status} {self.amount} {self.currency}"

    @property
    def failure_label(self) -> str:
        """The failure in the active language."""
        label = FAILURE_LABELS.get(self.failure_code)
        return str(label) if label is not None else self.failure_message


class SimulatedCard(models.Model):
    """SIMULATOR: a card the simulated provider tokenised (it keeps the behaviour, never the number)."""

    token = models.CharField(max_length=64, unique=True)
    brand = models.CharField(max_length=16)
    funding = models.CharField(max_length=8)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    behaviour = models.CharField(max_length=24, help_text="succeed, decline, insufficient_funds, expired_card")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("simulated card (provider simulator)")
        verbose_name_plural = _("simulated cards (provider simulator)")

    def __str__(self) -> str:
        return f"{self.brand} ****{self.last4} ({self.behaviour})"


class SimulatedLedgerEntry(models.Model):
    """SIMULATOR: what a charge and a refund of the simulated provider both record."""

    idempotency_key = models.CharField(max_length=100, db_index=True)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16)
    failure_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class SimulatedCharge(SimulatedLedgerEntry):
    """SIMULATOR: the simulated provider's charge ledger, keyed by the idempotency key (the invoice)."""

    charge_id = models.CharField(max_length=40, unique=True)
    card_token = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("simulated charge (provider simulator)")
        verbose_name_plural = _("simulated charges (provider simulator)")
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], condition=models.Q(status="succeeded"),
                                    name="simcharge_one_success_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.charge_id} {self.status}"


class SimulatedRefund(SimulatedLedgerEntry):
    """SIMULATOR: the simulated provider's refund ledger: a refund of one charge, keyed by its idempotency key."""

    refund_id = models.CharField(max_length=40, unique=True)
    charge_id = models.CharField(max_length=40, db_index=True)

    class Meta:
        verbose_name = _("simulated refund (provider simulator)")
        verbose_name_plural = _("simulated refunds (provider simulator)")
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], condition=models.Q(status="succeeded"),
                                    name="simrefund_one_success_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.refund_id} {self.status}"


class BillingEmail(models.Model):
    """S-PAY-3: an address that receives payment-failure notices (請求メールアドレス, up to 5)."""

    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="billing_emails")
    email = models.EmailField(_("email address"))
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("billing email address")
        verbose_name_plural = _("billing email addresses")
        ordering = ["tenant", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], name="billingemail_tenant_email"),
        ]

    def __str__(self) -> str:
        return self.email


class AccountEmails(models.Model):
    """S-PAY-3 / seed 001 §7.3.1: the recovery address of the tenant (the primary is the root login email)."""

    tenant = models.OneToOneField("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                                  related_name="account_emails")
    recovery_email = models.EmailField(_("recovery email address"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("account email addresses")
        verbose_name_plural = _("account email addresses")

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.recovery_email or '-'}"


class UnpaidInvoice(Invoice):
    """Back-office view of the issued, unpaid invoices, where the operator records a received payment
    (invoice, bank debit, convenience-store slip). A proxy: the invoice itself belongs to billing."""

    class Meta:
        proxy = True
        verbose_name = _("invoice awaiting payment")
        verbose_name_plural = _("invoices awaiting payment")
