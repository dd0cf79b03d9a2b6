"""Reading usage (issue 4 §7, §8; M-DL-5, K-4, X-PLOT). Every function takes the tenant and the user: the
tenant scopes every query (T-2), the user's permission (``Usage:read``) and line scope limit it further.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _

from kaisen.access.actions import USAGE_READ
from kaisen.access.services import authorize, line_scope
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.calendar import first_of_next_month, month_start, previous_month
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.lines.models import Line
from kaisen.tenancy.models import Tenant
from kaisen.usage.models import CallRecord, CallType, DataUsageDaily, UsageRollup

#: M-DL-5: the newest date shown is the file date − 2 days ("前日分の利用量は参照不可"), and 6 days before it.
DATA_LAG_DAYS = 2
WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 92
MAX_CALLS_PAGE = 500
SMS_TYPES = (CallType.SMS, CallType.SMS_INTERNATIONAL)


def _line(*, user: Any, tenant: Tenant, line_id: int) -> Line:
    authorize(user=user, action=USAGE_READ)
    line = (Line.objects.filter(tenant=tenant, pk=line_id).filter(line_scope(user=user))
            .select_related("plan").first())
    if line is None:
        raise NotFound(_("No such line."))
    return line


def parse_month(value: str | None) -> dt.date:
    """``YYYY-MM`` → the first day of that month; empty → the current month (JST)."""
    if not value:
        return month_start(clock.today_jst())
    try:
        return dt.date.fromisoformat(f"{value.strip()}-01")
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID_DATE, _("Give the month as YYYY-MM."), field="month") from exc


@dataclass
class LineDataUsage:
    """One line's daily data usage in a window (M-DL-5) and last month's total."""

    line: Line
    window_end: dt.date
    days: list[tuple[dt.date, int]]
    last_month: dt.date
    last_month_bytes: int
    allowance_bytes: int | None

    @property
    def window_bytes(self) -> int:
        return sum(b for _, b in self.days)

    def as_dict(self) -> dict[str, Any]:
        return {"line_id": self.line.pk, "msisdn": self.line.msisdn, "plan_code": self.line.plan.code,
                "allowance_bytes": self.allowance_bytes, "window_start": self.days[0][0] if self.days else None,
                "window_end": self.window_end, "days": [{"date": d, "bytes": b} for d, b in self.days],
                "window_bytes": self.window_bytes,
                "last_month": {"month": f"{self.last_month:%Y-%m}", "bytes": self.last_month_bytes}}


def default_window_end(today: dt.date | None = None) -> dt.date:
    return (today or clock.today_jst()) - dt.timedelta(days=DATA_LAG_DAYS)


def line_data_usage(*, user: Any, tenant: Tenant, line_id: int, end: dt.date | None = None,
                    days: int = WINDOW_DAYS) -> LineDataUsage:
    """Bytes per day from ``end`` − (days − 1) to ``end`` (default: today − 2 days and the 6 days before,
    the M-DL-5 window; a day without a record shows 0) and the total of the month before ``end``'s month
    (M-DL-5 ⑫ "前月の合計データ利用量")."""
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("The window is 1 to %(max)d days.") % {"max": MAX_WINDOW_DAYS}, field="days")
    line = _line(user=user, tenant=tenant, line_id=line_id)
    end = end or default_window_end()
    start = end - dt.timedelta(days=days - 1)
    rows = dict(DataUsageDaily.objects.filter(tenant=tenant, line=line, day__gte=start, day__lte=end)
                .values_list("day", "bytes_used"))
    series = [(start + dt.timedelta(days=i), int(rows.get(start + dt.timedelta(days=i), 0))) for i in range(days)]
    last = previous_month(end)
    total = (DataUsageDaily.objects.filter(tenant=tenant, line=line, day__gte=last, day__lt=first_of_next_month(last))
             .aggregate(total=Sum("bytes_used"))["total"]) or 0
    allowance_mb = line.data_cap_mb or line.plan.data_allowance_mb
    return LineDataUsage(line=line, window_end=end, days=series, last_month=last, last_month_bytes=int(total),
                         allowance_bytes=allowance_mb * 1024 * 1024 if allowance_mb else None)


@dataclass
class UsageDay:
    day: dt.date
    data_bytes: int = 0
    calls: int = 0
    call_seconds: float = 0.0
    sms: int = 0


@dataclass
class UsageSummary:
    """A tenant's usage of one month, day by day (X-PLOT): data, calls (count and minutes), SMS."""

    month: dt.date
    days: list[UsageDay] = field(default_factory=list)
    lines_with_data: int = 0
    lines_with_calls: int = 0

    @property
    def data_bytes(self) -> int:
        return sum(d.data_bytes for d in self.days)

    @property
    def calls(self) -> int:
        return sum(d.calls for d in self.days)

    @property
    def call_seconds(self) -> float:
        return sum(d.call_seconds for d in self.days)

    @property
    def sms(self) -> int:
        return sum(d.sms for d in self.days)

    def as_dict(self) -> dict[str, Any]:
        return {"month": f"{self.month:%Y-%m}", "data_bytes": self.data_bytes, "calls": self.calls,
                "call_minutes": round(self.call_seconds / 60, 1), "sms": self.sms,
                "lines_with_data": self.lines_with_data, "lines_with_calls": self.lines_with_calls,
                "days": [{"date": d.day, "data_bytes": d.data_bytes, "calls": d.calls,
                          "call_minutes": round(d.call_seconds / 60, 1), "sms": d.sms} for d in self.days]}


def usage_summary(*, user: Any, tenant: Tenant, month: dt.date) -> UsageSummary:
    """Daily totals of the month over the lines the user may see: two GROUP BY queries, one per table.

    Calls are counted on the day they started (Japan time); the month's bill counts them by the month
    they end in (K-4), so a call over midnight on the last day shows here and is billed next month."""
    authorize(user=user, action=USAGE_READ)
    month = month_start(month)
    end = first_of_next_month(month)
    scope = line_scope(user=user, prefix="line__")
    summary = UsageSummary(month=month)
    by_day = {month + dt.timedelta(days=i): UsageDay(month + dt.timedelta(days=i))
              for i in range((end - month).days)}
    data = (DataUsageDaily.objects.filter(scope, tenant=tenant, day__gte=month, day__lt=end).order_by()
            .values("day").annotate(total=Sum("bytes_used")))
    for row in data:
        by_day[row["day"]].data_bytes = int(row["total"] or 0)
    # Calls from the rollups (issue 10 §4), never the raw calls: per line, Japan-time day of start and type.
    calls = (UsageRollup.objects.filter(scope, tenant=tenant, day__gte=month, day__lt=end).order_by().values("day")
             .annotate(n=Sum("calls", filter=~Q(call_type__in=SMS_TYPES)),
                       ds=Sum("duration_ds", filter=~Q(call_type__in=SMS_TYPES)),
                       sms=Sum("units", filter=Q(call_type__in=SMS_TYPES))))
    for crow in calls:
        day = by_day.get(crow["day"])
        if day is not None:
            day.calls, day.call_seconds, day.sms = crow["n"] or 0, (crow["ds"] or 0) / 10, crow["sms"] or 0
    summary.days = list(by_day.values())
    summary.lines_with_data = (DataUsageDaily.objects.filter(scope, tenant=tenant, day__gte=month, day__lt=end)
                               .values("line").distinct().count())
    summary.lines_with_calls = (UsageRollup.objects.filter(scope, tenant=tenant, day__gte=month, day__lt=end)
                                .values("line").distinct().count())
    return summary


@dataclass
class CallPage:
    items: list[CallRecord]
    next_cursor: str | None
    #: The currency of the charges: the line's coverage, as rating prices them (issue 10 §7).
    currency: str = "JPY"


def coverage_currency(coverage: str | None) -> str:
    """JPY for the Japan coverage, USD for Global (S-COV-1; the same rule as ``billing.rating.currency_of``)."""
    return "USD" if coverage == Coverage.GLOBAL else "JPY"


def _cursor_encode(record: CallRecord) -> str:
    raw = json.dumps([record.started_at.isoformat(), record.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[dt.datetime, int]:
    try:
        started, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value = dt.datetime.fromisoformat(started)
        if value.tzinfo is None or not isinstance(pk, int):
            raise ValueError(cursor)
        return value, pk
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise DomainError(ErrorCode.INVALID_CURSOR, _("The page cursor is not valid; start again from the first page."),
                          field="cursor") from exc


def line_calls(*, user: Any, tenant: Tenant, line_id: int, month: dt.date, cursor: str | None = None,
               size: int = 10) -> CallPage:
    """A line's calls and SMS billed in ``month`` (K-4: by the month the call ends in), in start order,
    keyset-paged on (start, id): every page costs the same."""
    line = _line(user=user, tenant=tenant, line_id=line_id)
    size = max(1, min(size, MAX_CALLS_PAGE))
    qs = CallRecord.objects.filter(tenant=tenant, line=line, billing_month=month_start(month))
    if cursor:
        started, pk = _cursor_decode(cursor)
        # `start >= v AND (start > v OR id > pk)`: the first term bounds the (line, month, start) index scan.
        qs = qs.filter(started_at__gte=started).filter(Q(started_at__gt=started) | Q(pk__gt=pk))
    rows = list(qs.order_by("started_at", "pk")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return CallPage(items=rows, next_cursor=_cursor_encode(rows[-1]) if has_more and rows else None,
                    currency=coverage_currency(line.plan.coverage))
