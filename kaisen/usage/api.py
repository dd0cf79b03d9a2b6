"""Usage API (issue 4 §8; M-DL-5, K-4, X-API): a line's daily data usage, the tenant's monthly summary, a
line's calls by billing month with keyset paging."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kaisen.accounts.models import User
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import OPTIONAL_MONTH_PATTERN, Id, Int64, IsoDate
from kaisen.core.schemas import ErrorOut
from kaisen.tenancy.models import Tenant
from kaisen.usage.selectors import (
    MAX_WINDOW_DAYS,
    WINDOW_DAYS,
    line_calls,
    line_data_usage,
    parse_month,
    usage_summary,
)

router = Router(tags=["usage"])


class DayBytes(Schema):
    date: dt.date
    bytes: int


class MonthBytes(Schema):
    month: str
    bytes: int


class LineUsageOut(Schema):
    line_id: int
    msisdn: str | None
    plan_code: str
    allowance_bytes: int | None
    window_start: dt.date | None
    window_end: dt.date
    days: list[DayBytes]
    window_bytes: int
    last_month: MonthBytes


class LineUsageQuery(Schema):
    end: IsoDate | None = None
    # The document states the window (1 to 92 days); the selector refuses any other with 400 VALIDATION_ERROR.
    days: Int64 = Field(WINDOW_DAYS, json_schema_extra={"minimum": 1, "maximum": MAX_WINDOW_DAYS})


class SummaryDay(Schema):
    date: dt.date
    data_bytes: int
    calls: int
    call_minutes: float
    sms: int


class SummaryOut(Schema):
    month: str
    data_bytes: int
    calls: int
    call_minutes: float
    sms: int
    lines_with_data: int
    lines_with_calls: int
    days: list[SummaryDay]


class LineCallOut(Schema):
    id: int
    record_id: str
    msisdn: str
    started_at: dt.datetime
    duration_ds: int
    units: int
    billing_month: dt.date
    destination_number: str
    destination_area: str
    call_type: str
    is_internal: bool
    tax_exempt: bool
    charge: float | None = Field(description="Standard rate, tax excluded; null while not rated.")
    currency: str = Field(description="ISO 4217 code of the charge: JPY (Japan coverage) or USD (Global).")


_CALL_FIELDS = ("id", "record_id", "msisdn", "started_at", "duration_ds", "units", "billing_month",
                "destination_number", "destination_area", "call_type", "is_internal", "tax_exempt", "charge")


class LineCallPageOut(Schema):
    currency: str = Field(description="ISO 4217 code of every charge on the page: JPY or USD.")
    items: list[LineCallOut]
    next_cursor: str | None


class SummaryQuery(Schema):
    # The document states the rule ``parse_month`` enforces (400 INVALID_DATE otherwise; issue 14).
    month: str = Field("", json_schema_extra={"pattern": OPTIONAL_MONTH_PATTERN})


class CallsQuery(Schema):
    # The document states the rule ``parse_month`` enforces (400 INVALID_DATE otherwise; issue 14).
    month: str = Field("", json_schema_extra={"pattern": OPTIONAL_MONTH_PATTERN})
    cursor: str | None = None
    limit: Int64 = 10


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _tenant(user: User) -> Tenant:
    if user.tenant is None:  # operator staff have no tenant and no usage to read here
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    return user.tenant


@router.get("/lines/{int:line_id}/usage", response={200: LineUsageOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="A line's data usage per day (M-DL-5 window by default) and last month's total")
def line_usage(request: HttpRequest, line_id: Id, query: Query[LineUsageQuery]) -> dict[str, Any]:
    """Bytes per day for ``days`` days ending at ``end`` (default: today − 2 days, the newest the carrier
    reports, and the 6 days before: the window of the data-usage file M-DL-5), and last month's total."""
    user = _user(request)
    return line_data_usage(user=user, tenant=_tenant(user), line_id=line_id, end=query.end,
                           days=query.days).as_dict()


@router.get("/usage/summary", response={200: SummaryOut, 400: ErrorOut, 403: ErrorOut},
            summary="The tenant's usage of a month, day by day (data, calls, call minutes, SMS)")
def summary(request: HttpRequest, query: Query[SummaryQuery]) -> dict[str, Any]:
    user = _user(request)
    return usage_summary(user=user, tenant=_tenant(user), month=parse_month(query.month)).as_dict()


@router.get("/lines/{int:line_id}/calls", response={200: LineCallPageOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="A line's calls and SMS billed in a month (K-4), keyset-paged")
def calls(request: HttpRequest, line_id: Id, query: Query[CallsQuery]) -> dict[str, Any]:
    """Calls in start order, ``limit`` per page (default 10, K-4; at most 500); follow ``next_cursor``.
    A call is listed in the month it is billed in: the month its end falls in (K-4)."""
    user = _user(request)
    page = line_calls(user=user, tenant=_tenant(user), line_id=line_id, month=parse_month(query.month),
                      cursor=query.cursor, size=query.limit)
    return {"currency": page.currency, "next_cursor": page.next_cursor,
            "items": [{**{f: getattr(c, f) for f in _CALL_FIELDS}, "currency": page.currency} for c in page.items]}
