"""Invoices and their items (issue 4 §2-§4; S-BILL-1..5, M-DL-1, M-DL-2, K-4, X-INVOICE-JP).

``Invoice`` and ``InvoiceItem`` are the shared contract of billing (rating and close write them),
payments (updates the status), statements (streams the items) and accounts (deletion needs every
invoice paid). One invoice per tenant, coverage and month; while the month is open the invoice is
``accumulating`` and rating rewrites its items (the provisional amount); the close freezes them.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from kaisen.carriers.models import Coverage


class Currency(models.TextChoices):
    JPY = "JPY", _("Japanese yen")
    USD = "USD", _("US dollar")


class TaxClass(models.TextChoices):
    """The tax class column of the invoice detail (M-DL-1): ``外税10%`` or ``非課税``."""

    TAXABLE_10 = "taxable_10", "外税10%"
    EXEMPT = "exempt", "非課税"


TAX_RATES: dict[str, Decimal] = {TaxClass.TAXABLE_10: Decimal("0.10"), TaxClass.EXEMPT: Decimal("0")}


class InvoiceStatus(models.TextChoices):
    """S-BILL-2 / K-4: accumulating → final → invoiced → paid | payment error."""

    ACCUMULATING = "accumulating", _("Accumulating")
    FINAL = "final", _("Final")
    INVOICED = "invoiced", _("Invoiced")
    PAID = "paid", _("Paid")
    PAYMENT_ERROR = "payment_error", _("Payment error")
    NO_CHARGE = "no_charge", _("No charge")  # a zero month, or one fully covered by coupons: no invoice issued


class ChargeCategory(models.TextChoices):
    """The per-number breakdown of K-4 / K-6 (domestic, international, au, other mobile) and the rest."""

    FEE = "fee", _("Fees")
    DOMESTIC = "domestic", _("Domestic calls")
    INTERNATIONAL = "international", _("International calls")
    MOBILE_AU = "mobile_au", _("au calls")
    MOBILE_OTHER = "mobile_other", _("Other mobile calls")
    SMS = "sms", _("SMS")
    DATA = "data", _("Data")
    DISCOUNT = "discount", _("Discounts and coupons")


class Invoice(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="invoices")
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    month = models.DateField(_("billing month"), help_text=_("First day of the month of use."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.JPY)
    status = models.CharField(_("status"), max_length=16, choices=InvoiceStatus.choices,
                              default=InvoiceStatus.ACCUMULATING)
    number = models.CharField(_("invoice number"), max_length=40, blank=True)
    # Amounts in the invoice currency. Tax is computed once per rate per invoice (X-INVOICE-JP).
    taxable_total = models.DecimalField(_("taxable total"), max_digits=16, decimal_places=2, default=Decimal(0))
    tax_total = models.DecimalField(_("consumption tax"), max_digits=16, decimal_places=2, default=Decimal(0))
    exempt_total = models.DecimalField(_("tax-exempt total"), max_digits=16, decimal_places=2, default=Decimal(0))
    coupon_applied = models.DecimalField(_("coupons applied"), max_digits=16, decimal_places=2, default=Decimal(0))
    total = models.DecimalField(_("amount billed"), max_digits=16, decimal_places=2, default=Decimal(0))
    # Global coverage: USD converted to JPY at the month's TTS rate (S-COV-1).
    jpy_rate = models.DecimalField(_("TTS rate (JPY per USD)"), max_digits=10, decimal_places=4, null=True, blank=True)
    total_jpy = models.BigIntegerField(_("amount billed (JPY)"), default=0)
    final_on = models.DateField(_("amount final on"), null=True, blank=True)
    issued_on = models.DateField(_("issue date"), null=True, blank=True)
    due_on = models.DateField(_("due date"), null=True, blank=True)
    # Snapshots for the qualified invoice: what was printed stays what it was.
    issuer_name = models.CharField(_("issuer"), max_length=200, blank=True)
    issuer_registration_number = models.CharField(_("issuer registration number"), max_length=14, blank=True)
    recipient_name = models.CharField(_("recipient"), max_length=200, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["tenant", "-month", "coverage"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "coverage", "month"], name="invoice_tenant_coverage_month"),
        ]
        indexes = [models.Index(fields=["tenant", "month"], name="invoice_tenant_month")]

    def __str__(self) -> str:
        return self.number or f"{self.tenant_id}/{self.coverage}/{self.month:%Y-%m}"


class InvoiceItem(models.Model):
    """One line of the invoice detail (M-DL-1): a cost type of one number, or of the account."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="items")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    line = models.ForeignKey("lines.Line", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    msisdn = models.CharField(_("phone number"), max_length=11, blank=True, help_text=_("Blank for account fees."))
    cost_type = models.CharField(_("cost type code"), max_length=40)
    label = models.CharField(_("cost type"), max_length=100, help_text=_("As printed, e.g. 月額基本料金."))
    category = models.CharField(_("category"), max_length=16, choices=ChargeCategory.choices,
                                default=ChargeCategory.FEE)
    is_voice = models.BooleanField(_("voice charge"), default=False,
                                   help_text=_("Part of the voice charge detail (M-DL-2)."))
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=1, default=Decimal(1))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    tax_class = models.CharField(_("tax class"), max_length=16, choices=TaxClass.choices,
                                 default=TaxClass.TAXABLE_10)

    class Meta:
        verbose_name = _("invoice item")
        verbose_name_plural = _("invoice items")
        indexes = [
            models.Index(fields=["invoice", "msisdn", "cost_type"], name="invoiceitem_invoice_msisdn"),
            models.Index(fields=["tenant", "invoice"], name="invoiceitem_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.msisdn or '-'} {self.label} {self.amount}"
