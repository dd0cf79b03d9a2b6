"""Invoices and their items (issue 4 §2-§4; S-BILL-1..5, M-DL-1, M-DL-2, K-4, X-INVOICE-JP).

``Invoice`` and ``InvoiceItem`` are the shared contract of billing (rating and close write them),
payments (updates the status), statements (streams the items) and accounts (deletion needs every
invoice paid). One invoice per tenant, coverage and month; while the month is open the invoice is
``accumulating`` and rating rewrites its items (the provisional amount); the close freezes them.
"""

from __future__ import annotations

import datetime as dt
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
    # S-BILL-5: the month is billed on another account's combined invoice (``Invoice.combined_into``).
    COMBINED = "combined", _("Combined")


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
    # S-BILL-5: a member account's month, billed on the payer's invoice; set by the close together with status
    # ``combined`` and only then, so either says the same. Its amounts stay its own share. On the payer's
    # invoice the totals are those of every account together.
    combined_into = models.ForeignKey("self", verbose_name=_("combined into"), on_delete=models.PROTECT, null=True,
                                      blank=True, related_name="combined_members")
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


class CombinedBilling(models.Model):
    """S-BILL-5 (seed 001 §3.4.3 ①): the operator combines the bills of ``member`` into the invoice of ``payer``
    for one coverage, from ``first_month`` to ``last_month`` (open-ended while empty). The payer's invoice then
    bills every account's charges with one tax computation and lists each account's share; the member gets no
    invoice of its own for those months. One account's invoice is never split (seed §3.4.4). Rules (no chains,
    no overlap, only months not closed yet) live in ``kaisen.billing.combined``."""

    payer = models.ForeignKey("tenancy.Tenant", verbose_name=_("paying account"), on_delete=models.PROTECT,
                              related_name="combined_billing_members")
    member = models.ForeignKey("tenancy.Tenant", verbose_name=_("combined account"), on_delete=models.PROTECT,
                               related_name="combined_billing_payers")
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    first_month = models.DateField(_("first month"), help_text=_("First day of the first combined month."))
    last_month = models.DateField(_("last month"), null=True, blank=True,
                                  help_text=_("First day of the last combined month; empty: until ended."))
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    ended_by = models.CharField(_("ended by"), max_length=150, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("combined billing")
        verbose_name_plural = _("combined billing")
        ordering = ["payer", "coverage", "first_month"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(payer=models.F("member")), name="combined_not_self"),
            models.UniqueConstraint(fields=["member", "coverage"], condition=models.Q(last_month__isnull=True),
                                    name="combined_one_open_per_member"),
        ]
        indexes = [models.Index(fields=["payer", "coverage"], name="combined_payer")]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.payer_id} ({self.coverage}, {self.first_month:%Y-%m}…)"

    def covers(self, month: dt.date) -> bool:
        return self.first_month <= month and (self.last_month is None or month <= self.last_month)


class InvoiceItem(models.Model):
    """One line of the invoice detail (M-DL-1): a cost type of one number, or of the account."""

    # No single-column index on invoice or tenant: the composite indexes below start with each of them and serve
    # every lookup by invoice or tenant (the cascade and PROTECT checks included); two fewer indexes to write
    # per item at every rating (issue 10 benchmarks: a close writes one item per number and call type).
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="items", db_index=False)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
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
    # Issue 10 §4: an adjustment — usage of an earlier month that arrived after that month was closed — names
    # the month it adjusts; NULL for the invoice's own month.
    usage_month = models.DateField(_("month adjusted"), null=True, blank=True,
                                   help_text=_("The earlier month this adjustment is for."))

    class Meta:
        verbose_name = _("invoice item")
        verbose_name_plural = _("invoice items")
        indexes = [
            models.Index(fields=["invoice", "msisdn", "cost_type"], name="invoiceitem_invoice_msisdn"),
            models.Index(fields=["tenant", "invoice"], name="invoiceitem_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.msisdn or '-'} {self.label} {self.amount}"


class InvoiceCategoryTotal(models.Model):
    """The invoice's items summed per category and tax class: what the provisional charges page,
    ``GET /api/v1/bills/current`` and the bills list read instead of every item (issue 10 benchmarks: a few
    rows per invoice, whatever its lines). Derived data, written with the items by rating (``rate_month``,
    the only writer of items: ``rating.category_totals_write``)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="category_totals", db_index=False)
    category = models.CharField(_("category"), max_length=16, choices=ChargeCategory.choices)
    tax_class = models.CharField(_("tax class"), max_length=16, choices=TaxClass.choices)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)

    class Meta:
        verbose_name = _("invoice total by category")
        verbose_name_plural = _("invoice totals by category")
        constraints = [models.UniqueConstraint(fields=["invoice", "category", "tax_class"],
                                               name="invoicecategorytotal_key")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.category} {self.tax_class} {self.amount}"


# ------------------------------------------------------------------------------------------------
# Tariff catalogue, TTS rates, coupons and long-term discounts (issue 4 §2-§3; part `rate`).
# Rates are in the coverage's currency: yen for Japan, US dollars for Global (S-COV-1). Everything
# here is operator data (back office, ``kaisen admin billing``), not tenant data — except coupons and
# long-term discounts, which belong to one tenant.
# ------------------------------------------------------------------------------------------------


#: The ``valid_from`` of the prices that existed before tariffs had versions (migration
#: ``billing.0005_tariff_versions``) and of rows created without a date: before any invoice.
TARIFF_EPOCH = dt.date(2000, 1, 1)


def _valid_from() -> models.DateField:
    return models.DateField(
        _("valid from"), default=TARIFF_EPOCH,
        help_text=_("Japan time. Calls started on or after this day use this version; a month's monthly fees use "
                    "the version in force on the month's first day. A price change is a new version."))


class FeeCode(models.TextChoices):
    """Monthly fees other than the plan's base fee, and the data overage price."""

    UNIVERSAL_SERVICE = "universal_service", "ﾕﾆﾊﾞｰｻﾙｻｰﾋﾞｽ料金"
    VOICEMAIL = "voicemail", _("Voicemail")
    CALL_WAITING = "call_waiting", _("Call waiting")
    FLAT_RATE_CALLING = "flat_rate_calling", _("Flat-rate calling")
    DATA_OVERAGE = "data_overage", _("Data beyond the allowance (per unit)")


#: Fees that are voice options (Line.voice_options keys); billed together as 付加機能使用料 (M-DL-2).
OPTION_FEE_CODES = (FeeCode.VOICEMAIL, FeeCode.CALL_WAITING, FeeCode.FLAT_RATE_CALLING)


class FeeRate(models.Model):
    """A monthly fee of the catalogue. ``plan`` empty: the default for the coverage; a row with a plan
    overrides it for that plan (e.g. flat-rate calling priced per plan)."""

    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    code = models.CharField(_("fee"), max_length=24, choices=FeeCode.choices)
    plan = models.ForeignKey("lines.Plan", verbose_name=_("plan"), on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    amount = models.DecimalField(_("amount (tax excluded)"), max_digits=12, decimal_places=4,
                                 help_text=_("Yen for Japan, US dollars for Global; per month, or per unit."))
    unit_mb = models.PositiveIntegerField(_("unit (MB)"), default=0,
                                          help_text=_("Data overage only: the size of one charged unit."))
    valid_from = _valid_from()

    class Meta:
        verbose_name = _("fee rate")
        verbose_name_plural = _("fee rates")
        ordering = ["coverage", "code", "plan", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["coverage", "code", "plan", "valid_from"], name="feerate_version_unique"),
            models.UniqueConstraint(fields=["coverage", "code", "valid_from"], condition=models.Q(plan__isnull=True),
                                    name="feerate_default_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.coverage} {self.code} {self.plan_id or '*'} {self.valid_from}: {self.amount}"


class CallRate(models.Model):
    """The charge of one call type (K-4, M-DL-2/3): per started ``unit_seconds`` of duration, or per count
    (SMS, directory assistance) when ``unit_seconds`` is 0. Tax class follows the call type (international
    and roaming are tax-exempt)."""

    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    call_type = models.CharField(_("call type"), max_length=20)
    unit_seconds = models.PositiveIntegerField(_("unit (seconds)"), default=30,
                                               help_text=_("0: charged per count (messages, directory assistance)."))
    rate = models.DecimalField(_("rate per unit (tax excluded)"), max_digits=12, decimal_places=4)
    cost_type = models.CharField(_("cost type code"), max_length=40)
    label = models.CharField(_("cost type"), max_length=100, help_text=_("As printed on the voice charge detail."))
    category = models.CharField(_("category"), max_length=16, choices=ChargeCategory.choices)
    flat_rate_covered = models.BooleanField(
        _("covered by flat-rate calling"), default=False,
        help_text=_("Free on the invoice for a line with flat-rate calling (the call detail keeps the standard rate)."))
    valid_from = _valid_from()

    class Meta:
        verbose_name = _("call rate")
        verbose_name_plural = _("call rates")
        ordering = ["coverage", "call_type", "-valid_from"]
        constraints = [models.UniqueConstraint(fields=["coverage", "call_type", "valid_from"],
                                               name="callrate_version_unique")]

    def __str__(self) -> str:
        return f"{self.coverage} {self.call_type} {self.valid_from}: {self.rate}/{self.unit_seconds or 'count'}"


class PlanTariff(models.Model):
    """A version of a plan's price (issue 10 §2): the yen fee of a Japan plan, the USD fee of a Global plan and
    whether the plan includes flat-rate calling, from ``valid_from``. A plan without a version in force bills
    ``Plan.monthly_fee`` yen (the catalogue price of ``lines``); so does a version whose yen fee is empty."""

    plan = models.ForeignKey("lines.Plan", verbose_name=_("plan"), on_delete=models.CASCADE,
                             related_name="tariffs")
    jpy_monthly_fee = models.PositiveIntegerField(_("monthly fee (yen, tax excluded)"), null=True, blank=True,
                                                  help_text=_("Japan plans; empty: the plan's catalogue fee."))
    usd_monthly_fee = models.DecimalField(_("monthly fee (USD)"), max_digits=10, decimal_places=4, null=True,
                                          blank=True, help_text=_("Global plans only."))
    includes_flat_rate_calling = models.BooleanField(_("includes flat-rate calling"), default=False)
    valid_from = _valid_from()

    class Meta:
        verbose_name = _("plan fee")
        verbose_name_plural = _("plan fees")
        ordering = ["plan", "-valid_from"]
        constraints = [models.UniqueConstraint(fields=["plan", "valid_from"], name="plantariff_version_unique")]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.valid_from}"


class LongTermRate(models.Model):
    """S-BILL-4: the lower base fee of a Japan plan for a committed term, from ``valid_from``. A
    ``LongTermDiscount`` names the plan and term through one version; a month bills the version of that plan
    and term in force on its first day."""

    plan = models.ForeignKey("lines.Plan", verbose_name=_("plan"), on_delete=models.CASCADE, related_name="+")
    term_months = models.PositiveIntegerField(_("committed term (months)"))
    monthly_fee = models.PositiveIntegerField(_("discounted monthly fee (yen, tax excluded)"))
    valid_from = _valid_from()

    class Meta:
        verbose_name = _("long-term discount rate")
        verbose_name_plural = _("long-term discount rates")
        ordering = ["plan", "term_months", "-valid_from"]
        constraints = [models.UniqueConstraint(fields=["plan", "term_months", "valid_from"],
                                               name="longtermrate_version_unique")]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.term_months}m {self.valid_from}: {self.monthly_fee}"


class LongTermDiscount(models.Model):
    """One line's committed term (S-BILL-4): months from ``starts_on`` to ``ends_on`` bill the lower fee."""

    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="+")
    line = models.ForeignKey("lines.Line", verbose_name=_("line"), on_delete=models.PROTECT, related_name="+")
    rate = models.ForeignKey(LongTermRate, verbose_name=_("rate"), on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField(_("first month"))
    ends_on = models.DateField(_("last month"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("long-term discount")
        verbose_name_plural = _("long-term discounts")
        ordering = ["tenant", "line", "starts_on"]
        indexes = [models.Index(fields=["tenant", "line", "starts_on"], name="ltd_tenant_line")]

    def __str__(self) -> str:
        return f"{self.line_id} {self.starts_on:%Y-%m}..{self.ends_on:%Y-%m}"


class TtsRate(models.Model):
    """The month's average TTS rate (JPY per USD) the operator enters; Global invoices use it (S-COV-1).
    Its ``month`` is its validity (issue 10 §2): one rate per month, never valid for another month's invoice,
    and it cannot change once a Global invoice of the month is closed (``services.tts_rate_set``, back office)."""

    month = models.DateField(_("month"), unique=True, help_text=_("First day of the month."))
    jpy_per_usd = models.DecimalField(_("JPY per USD"), max_digits=10, decimal_places=4)
    entered_by = models.CharField(_("entered by"), max_length=150, blank=True)
    entered_at = models.DateTimeField(_("entered at"), auto_now=True)

    class Meta:
        verbose_name = _("TTS rate")
        verbose_name_plural = _("TTS rates")
        ordering = ["-month"]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.jpy_per_usd}"


class Coupon(models.Model):
    """A prepaid coupon (S-BILL-3): consumed by monthly charges, oldest expiry first."""

    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="+")
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    code = models.CharField(_("coupon code"), max_length=40, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    balance = models.DecimalField(_("balance"), max_digits=14, decimal_places=2)
    purchased_on = models.DateField(_("purchased on"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["tenant", "purchased_on", "id"]
        indexes = [models.Index(fields=["tenant", "coverage"], name="coupon_tenant_coverage")]
        constraints = [models.CheckConstraint(
            condition=models.Q(balance__gte=0) & models.Q(balance__lte=models.F("amount")),
            name="coupon_balance_within_amount")]

    def __str__(self) -> str:
        return f"{self.code} {self.balance}/{self.amount}"


class CouponUse(models.Model):
    """What one close took from one coupon; unique per coupon and invoice, so closing twice takes nothing."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="uses")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="coupon_uses")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        constraints = [models.UniqueConstraint(fields=["coupon", "invoice"], name="couponuse_unique")]

    def __str__(self) -> str:
        return f"{self.coupon_id} → {self.invoice_id}: {self.amount}"
