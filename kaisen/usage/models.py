"""Usage records imported from the carrier's usage files (issue 4 §1; M-DL-3, M-DL-5, K-4, K-7).

``CallRecord`` and ``DataUsageDaily`` are the shared contract of the usage, billing (rating) and
statements apps: billing reads and rates them, statements stream them. Their fields are the union of
what the call-detail layouts of seeds 000 (M-DL-3) and 002 (K-7) show.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CallType(models.TextChoices):
    """How a call is classified and rated. International and roaming are tax-exempt (M-DL-1..3)."""

    DOMESTIC = "domestic", _("Domestic call")  # 国内呼 (fixed lines; 117/171 count as ordinary calls)
    MOBILE = "mobile", _("Mobile call")  # 携帯呼 (other mobile networks)
    MOBILE_AU = "mobile_au", _("Mobile call (au)")  # 携帯呼(au) — K-6 has its own au column
    IP = "ip", _("IP phone call")  # IP間呼 (050 numbers)
    OTHER_CARRIER_SERVICE = "other_carrier", _("Other carrier service")  # 他社接続サービス: 188, 189, 0570
    DIRECTORY_ASSISTANCE = "directory", _("Directory assistance")  # 番号案内 104: counted (N件), not timed
    INTERNATIONAL = "international", _("International call")  # 国際電話
    ROAMING_OUTGOING = "roaming_out", _("International roaming (outgoing)")  # 発信
    ROAMING_INCOMING = "roaming_in", _("International roaming (incoming)")  # 着信
    SMS = "sms", _("SMS")
    SMS_INTERNATIONAL = "sms_international", _("International SMS")


TAX_EXEMPT_CALL_TYPES = frozenset(
    {CallType.INTERNATIONAL, CallType.ROAMING_OUTGOING, CallType.ROAMING_INCOMING, CallType.SMS_INTERNATIONAL}
)


class CallRecord(models.Model):
    """One call or SMS of a tenant's line, as the carrier reported it.

    ``billing_month`` is the first day of the month the call is billed in: the month its *end* falls in,
    so a call spanning a month end is billed in the next month (K-4). ``charge`` is the standard-rate
    charge computed by rating (M-DL-3: "may differ from the bill"); NULL until rated.
    """

    # tenant, source_file and line: no database constraint (db_constraint=False; line since the issue 10
    # benchmarks: its deferred check ran once per stored call at the import's commit, about 4 s of a 37 s
    # import of 200,000 calls on a loaded machine, profiled 2026-12-07; the loader takes line_id from the
    # lines it reads in the same transaction, lines are deleted only by the demo reset, through the ORM,
    # which enforces PROTECT). Before, only line kept one. On
    # PostgreSQL the import's commit ran the deferred foreign-key check per row for each of tenant, line and
    # file (24.6 of 62.8 s at 1,000,000 rows, docs/benchmarks.md). Dropping two of them is safe because the
    # loader (usage.ingest) takes tenant_id from the matched line at import time and source_file_id from
    # the UsageFile row it creates itself; tenants are only soft-deleted in the product (only the statements
    # export benchmark deletes its own benchmark tenant, after its rows); usage files are deleted only by the
    # demo reset and the benchmarks' cleanup, after the records that point at them; and the ORM still
    # enforces on_delete=PROTECT without the database constraint. Raw SQL that deletes a tenant or a usage
    # file, or writes these columns, is not checked by the database. The same holds for DataUsageDaily.
    # No single-column index on tenant or line: the composite indexes below start with each of them and
    # serve every lookup by tenant or line (PROTECT checks included); two fewer indexes to write per row.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_constraint=False,
                               db_index=False)
    line = models.ForeignKey("lines.Line", on_delete=models.PROTECT, related_name="+", db_index=False,
                             db_constraint=False)  # see tenant above
    msisdn = models.CharField(_("phone number"), max_length=11)
    started_at = models.DateTimeField(_("start"))
    duration_ds = models.PositiveIntegerField(_("duration (tenths of a second)"), default=0)
    units = models.PositiveIntegerField(_("count"), default=1, help_text=_("Messages or directory-assistance calls."))
    billing_month = models.DateField(_("billing month"))
    destination_number = models.CharField(_("destination number"), max_length=32)
    destination_area = models.CharField(_("destination"), max_length=64, blank=True)
    call_type = models.CharField(_("call type"), max_length=20, choices=CallType.choices)
    is_internal = models.BooleanField(_("internal (内線)"), default=False)
    tax_exempt = models.BooleanField(_("tax-exempt"), default=False)
    charge = models.DecimalField(_("charge (standard rate)"), max_digits=12, decimal_places=2, null=True, blank=True)
    record_id = models.CharField(_("carrier record ID"), max_length=40)
    source_file = models.ForeignKey("usage.UsageFile", on_delete=models.PROTECT, related_name="+",
                                    db_constraint=False)  # see tenant above

    class Meta:
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        # The carrier record ID is unique per billing month: on PostgreSQL the table is partitioned by
        # billing_month (issue 10 §5, ``usage.partitions``) and a partitioned table's unique constraints must
        # include the partition key. A record's billing month follows from its own end time, so the same
        # record imported again has the same month and is still a conflict (re-importing changes nothing).
        constraints = [models.UniqueConstraint(fields=["record_id", "billing_month"],
                                               name="callrecord_record_month_unique")]
        indexes = [
            models.Index(fields=["tenant", "billing_month", "msisdn", "started_at"], name="cdr_tenant_month"),
            models.Index(fields=["line", "billing_month", "started_at"], name="cdr_line_month"),
        ]

    def __str__(self) -> str:
        return f"{self.msisdn} {self.started_at:%Y-%m-%d %H:%M} {self.destination_number}"


class DataUsageDaily(models.Model):
    """Bytes a line used on one day (M-DL-5)."""

    # tenant and source_file without a database constraint, line with one: why, see CallRecord.tenant.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    line = models.ForeignKey("lines.Line", on_delete=models.PROTECT, related_name="+")
    msisdn = models.CharField(_("phone number"), max_length=11, blank=True)
    day = models.DateField(_("date"))
    bytes_used = models.BigIntegerField(_("bytes used"))
    source_file = models.ForeignKey("usage.UsageFile", on_delete=models.PROTECT, related_name="+",
                                    db_constraint=False)

    class Meta:
        verbose_name = _("daily data usage")
        verbose_name_plural = _("daily data usage")
        constraints = [models.UniqueConstraint(fields=["line", "day"], name="datausage_line_day_unique")]
        indexes = [models.Index(fields=["tenant", "day", "line"], name="datausage_tenant_day")]

    def __str__(self) -> str:
        return f"{self.msisdn} {self.day}: {self.bytes_used} B"


class LateDataUsage(models.Model):
    """A line whose daily data of ``usage_month`` was written (a later file, a carrier's correction, a rematch)
    after an invoice of that month had been closed (issue 10 §4). Billing's rating bills the difference of that
    month's data overage as an adjustment in the next open month, and its close removes the mark once billed
    (``billing.rating.late_data_billed``). Kept by line and month only: the tenant billed is the line's of that
    month, as rating decides."""

    line = models.ForeignKey("lines.Line", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                             db_index=False)
    usage_month = models.DateField(_("month of use"))

    class Meta:
        verbose_name = _("late daily data usage")
        verbose_name_plural = _("late daily data usage")
        constraints = [models.UniqueConstraint(fields=["line", "usage_month"], name="latedatausage_line_month")]

    def __str__(self) -> str:
        return f"{self.line_id} {self.usage_month:%Y-%m}"


class UsageArchive(models.Model):
    """One month of a usage table archived and dropped past the retention period (issue 10 §5,
    ``usage.retention``): where the compressed CSV export is, how many rows it holds and its SHA-256."""

    table = models.CharField(_("table"), max_length=40)
    month = models.DateField(_("month"), help_text=_("First day of the month."))
    rows = models.BigIntegerField(_("rows"))
    path = models.CharField(_("file"), max_length=500)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    archived_at = models.DateTimeField(_("archived at"))
    archived_by = models.CharField(_("archived by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("usage archive")
        verbose_name_plural = _("usage archives")
        ordering = ["-month", "table"]

    def __str__(self) -> str:
        return f"{self.table} {self.month:%Y-%m}"


class UsageFileKind(models.TextChoices):
    CALLS = "calls", _("Call and SMS detail records")
    DATA = "data", _("Daily data usage")


class UsageFile(models.Model):
    """One imported carrier usage file; its SHA-256 makes re-importing the same file a no-op."""

    kind = models.CharField(_("kind"), max_length=8, choices=UsageFileKind.choices)
    name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_loaded = models.PositiveIntegerField(_("rows loaded"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    rows_unmatched = models.PositiveIntegerField(_("rows for unknown lines"), default=0)
    # Added by the usage app (issue 4 §1): records already present (same carrier record ID), the import's
    # duration, and who imported it.
    rows_duplicate = models.PositiveIntegerField(_("rows already imported"), default=0)
    seconds = models.FloatField(_("import time (s)"), default=0)
    imported_by = models.CharField(_("imported by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("usage file")
        verbose_name_plural = _("usage files")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return self.name


# ------------------------------------------------------------------------------------------------
# Import bookkeeping (owned by the usage app; not part of the shared contract above).
# ------------------------------------------------------------------------------------------------

class UnmatchedCall(models.Model):
    """A call record whose phone number matched no line at import time: kept aside, never dropped, and
    moved into ``CallRecord`` by ``kaisen admin usage rematch`` once the line exists (issue 4 §1)."""

    source_file = models.ForeignKey(UsageFile, on_delete=models.CASCADE, related_name="unmatched_calls")
    row_no = models.PositiveIntegerField(_("row"))
    record_id = models.CharField(_("carrier record ID"), max_length=40, unique=True)
    msisdn = models.CharField(_("phone number"), max_length=11)
    started_at = models.DateTimeField(_("start"))
    duration_ds = models.PositiveIntegerField(_("duration (tenths of a second)"), default=0)
    units = models.PositiveIntegerField(_("count"), default=1)
    billing_month = models.DateField(_("billing month"))
    destination_number = models.CharField(_("destination number"), max_length=32)
    destination_area = models.CharField(_("destination"), max_length=64, blank=True)
    call_type = models.CharField(_("call type"), max_length=20, choices=CallType.choices)
    is_internal = models.BooleanField(_("internal (内線)"), default=False)
    tax_exempt = models.BooleanField(_("tax-exempt"), default=False)

    class Meta:
        verbose_name = _("call record for an unknown line")
        verbose_name_plural = _("call records for unknown lines")
        indexes = [models.Index(fields=["msisdn"], name="unmatchedcall_msisdn")]

    def __str__(self) -> str:
        return f"{self.msisdn} {self.record_id}"


class UnmatchedDataUsage(models.Model):
    """A daily data-usage row for a phone number / ICCID that matched no line (kept aside, rematchable)."""

    source_file = models.ForeignKey(UsageFile, on_delete=models.CASCADE, related_name="unmatched_data")
    row_no = models.PositiveIntegerField(_("row"))
    msisdn = models.CharField(_("phone number"), max_length=11, blank=True)
    iccid = models.CharField(_("SIM serial number (ICCID)"), max_length=20, blank=True)
    day = models.DateField(_("date"))
    bytes_used = models.BigIntegerField(_("bytes used"))

    class Meta:
        verbose_name = _("data usage for an unknown line")
        verbose_name_plural = _("data usage for unknown lines")

    def __str__(self) -> str:
        return f"{self.msisdn or self.iccid} {self.day}"


class UsageRowError(models.Model):
    """One rejected row of an imported file: its row number (the header is row 1) and why."""

    source_file = models.ForeignKey(UsageFile, on_delete=models.CASCADE, related_name="row_errors")
    row_no = models.PositiveIntegerField(_("row"))
    code = models.CharField(_("reason code"), max_length=32)
    message = models.CharField(_("reason"), max_length=300)
    raw = models.TextField(_("row as read"), blank=True)

    class Meta:
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        ordering = ["source_file", "row_no"]
        indexes = [models.Index(fields=["source_file", "row_no"], name="usagerowerror_file_row")]

    def __str__(self) -> str:
        return f"{self.source_file_id}:{self.row_no} {self.code}"


# ------------------------------------------------------------------------------------------------
# Rollups (issue 10 §4): what the bills and the usage pages read instead of the raw calls.
# ------------------------------------------------------------------------------------------------

class UsageRollup(models.Model):
    """The calls of one line on one day (Japan time, by start) of one call type, summed: count, units,
    duration and standard-rate charge. Written set-wise in the statement that stores the calls
    (``usage.ingest``) and rebuilt for the affected rows only when they are re-rated (``billing.rating``).

    ``tenant`` and ``coverage`` are those of the line-history interval in force when the calls started (the
    account billed, as rating decides); ``flat_rate_free``: the calls are covered by the line's flat-rate
    calling (free on the invoice, standard rate kept here). ``usage_month`` is the month the calls belong to
    (K-4: the month they end in); ``billing_month`` the month whose invoice bills them: the same, or — for
    usage that arrived after its month was closed — the next open month (an adjustment)."""

    # Derived data: removed with its line or tenant (only the demo reset and the benchmarks delete those).
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                               db_index=False)
    line = models.ForeignKey("lines.Line", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                             db_index=False)
    msisdn = models.CharField(_("phone number"), max_length=11)
    billing_month = models.DateField(_("billing month"))
    usage_month = models.DateField(_("month of use"))
    day = models.DateField(_("date"))
    call_type = models.CharField(_("call type"), max_length=20, choices=CallType.choices)
    coverage = models.CharField(_("coverage"), max_length=8)
    flat_rate_free = models.BooleanField(_("covered by flat-rate calling"), default=False)
    currency = models.CharField(_("currency"), max_length=3)
    calls = models.PositiveIntegerField(_("calls"), default=0)
    units = models.PositiveIntegerField(_("count"), default=0)
    duration_ds = models.BigIntegerField(_("duration (tenths of a second)"), default=0)
    charge = models.DecimalField(_("charge (standard rate)"), max_digits=14, decimal_places=2, default=0)
    unrated = models.PositiveIntegerField(_("calls without a rate"), default=0)

    class Meta:
        verbose_name = _("usage rollup")
        verbose_name_plural = _("usage rollups")
        constraints = [models.UniqueConstraint(
            fields=["line", "billing_month", "usage_month", "day", "call_type", "msisdn", "tenant", "coverage",
                    "flat_rate_free"], name="usagerollup_key")]
        indexes = [models.Index(fields=["tenant", "billing_month", "coverage"], name="usagerollup_tenant_month"),
                   models.Index(fields=["tenant", "day"], name="usagerollup_tenant_day"),
                   # The month's calls without a rate (rating's ``unrated_calls``): only rows that have some,
                   # so the count reads a few index entries instead of every rollup of the month.
                   models.Index(fields=["tenant", "billing_month", "coverage"], condition=Q(unrated__gt=0),
                                name="usagerollup_unrated")]

    def __str__(self) -> str:
        return f"{self.msisdn} {self.day} {self.call_type}: {self.calls} / {self.charge}"

    @property
    def is_adjustment(self) -> bool:
        return self.billing_month != self.usage_month


class UsageDayTotal(models.Model):
    """The rollups of one tenant, billing month, coverage and Japan-time day summed over its lines and call
    types (issue 10 benchmarks): the daily breakdown of the provisional charges page and of
    ``GET /api/v1/bills/current`` reads these few rows instead of every rollup of the month. Kept up to date in
    the same places as the rollups: the statement that stores the calls (``usage.ingest``) adds to them;
    re-rating (``billing.rating.rerate_calls``) takes the old rollups off and adds the new ones.
    ``calls`` is a plain integer: a re-rating writes its difference, which may be negative."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                               db_index=False)
    billing_month = models.DateField(_("billing month"))
    coverage = models.CharField(_("coverage"), max_length=8)
    day = models.DateField(_("date"))
    flat_rate_free = models.BooleanField(_("covered by flat-rate calling"), default=False)
    calls = models.BigIntegerField(_("calls"), default=0)
    charge = models.DecimalField(_("charge (standard rate)"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("usage day total")
        verbose_name_plural = _("usage day totals")
        constraints = [models.UniqueConstraint(fields=["tenant", "billing_month", "coverage", "day", "flat_rate_free"],
                                               name="usagedaytotal_key")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} ({self.billing_month:%Y-%m}): {self.calls} / {self.charge}"
