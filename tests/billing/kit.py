"""Helpers of the rating and close tests (part `rate`)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from kaisen.billing.rating import rerate_calls
from kaisen.carriers.models import Coverage
from kaisen.lines.models import Line, LineStatus, Plan, SimType
from kaisen.tenancy.models import Tenant
from kaisen.usage.classify import billing_month, classify
from kaisen.usage.models import TAX_EXEMPT_CALL_TYPES, CallRecord, DataUsageDaily, UsageFile
from tests.factories import LineFactory, PlanFactory, TenantFactory

_seq = itertools.count(1)
JST = dt.timezone(dt.timedelta(hours=9))


def usage_file() -> UsageFile:
    n = next(_seq)
    return UsageFile.objects.create(kind="calls", name=f"test-{n}.csv", sha256=f"{n:064d}")


def plan(code: str, *, fee: int = 1000, coverage: str = Coverage.JAPAN, allowance_mb: int | None = 3072) -> Plan:
    return PlanFactory(code=code, monthly_fee=fee, coverage=coverage, data_allowance_mb=allowance_mb)


def line(tenant: Tenant, plan_: Plan, *, status: str = LineStatus.ACTIVE, voice: dict[str, Any] | None = None,
         **kw: Any) -> Line:
    return LineFactory(tenant=tenant, plan=plan_, status=status, sim_type=SimType.VOICE if voice is not None
                       else SimType.DATA, voice_options=voice or {}, **kw)


def call(ln: Line, *, start: dt.datetime, seconds: float, call_type: str | None = None, dest: str = "0312345678",
         units: int = 1, service: str = "voice", roaming: str = "", network: str = "",
         src: UsageFile | None = None) -> CallRecord:
    """A call record as the importer writes it: call type from the usage app's classification (unless
    given), billing month = the month the call ends in (``kaisen.usage.classify.billing_month``)."""
    if call_type is None:
        call_type = classify(destination=dest, service=service, roaming=roaming, network=network).call_type
    month = billing_month(started_at=start, duration_ds=round(seconds * 10), tz=JST)
    record = CallRecord.objects.create(
        tenant=ln.tenant, line=ln, msisdn=ln.msisdn, started_at=start, duration_ds=round(seconds * 10),
        units=units, billing_month=month, destination_number=dest, call_type=call_type,
        tax_exempt=call_type in TAX_EXEMPT_CALL_TYPES, record_id=f"R{next(_seq):012d}", source_file=src or usage_file())
    # Rated and rolled up as the loader stores calls (issue 10 §4): the line's calls from that day re-rated.
    rerate_calls(line_ids=[ln.pk], since=start.astimezone(JST).date())
    record.refresh_from_db()
    return record


def data(ln: Line, day: dt.date, mb: float) -> DataUsageDaily:
    return DataUsageDaily.objects.create(tenant=ln.tenant, line=ln, msisdn=ln.msisdn or "", day=day,
                                         bytes_used=int(mb * 1024 * 1024), source_file=usage_file())


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=JST)


def tenant(**kw: Any) -> Tenant:
    return TenantFactory(**kw)


def amounts(invoice: Any) -> dict[tuple[str, str], Decimal]:
    return {(i.msisdn, i.cost_type): i.amount for i in invoice.items.all()}
