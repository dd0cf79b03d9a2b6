from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from kaisen.accounts.models import User
from kaisen.core.ids import Id, Int64
from kaisen.core.schemas import ErrorOut
from kaisen.lines.models import Line
from kaisen.lines.selectors import DEFAULT_SORT, LineFilters, line_count, line_get, line_list

router = Router(tags=["lines"])


class PlanOut(Schema):
    code: str
    name: str
    name_en: str
    data_allowance_mb: int | None
    monthly_fee: int


class LineOut(Schema):
    id: int
    msisdn: str | None
    msisdn_is_temporary: bool
    iccid: str
    product_code: str
    plan: PlanOut
    carrier: str
    sim_type: str
    sim_size: str
    is_ota: bool
    shipped_on: dt.date | None
    started_on: dt.date | None
    scheduled_end_on: dt.date | None
    status: str
    voice_options: dict[str, Any]
    data_cap_mb: int | None
    updated_at: dt.datetime


class LinePageOut(Schema):
    items: list[LineOut]
    next_cursor: str | None
    prev_cursor: str | None
    count: int | None = None


class LineQuery(Schema):
    status: str = ""
    carrier: str = ""
    sim_type: str = ""
    plan: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT
    cursor: str | None = None
    limit: Int64 = 50
    with_count: bool = False


def _tenant(request: HttpRequest):
    user: User = request.auth  # type: ignore[attr-defined]
    return user.tenant


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


@router.get("", response={200: LinePageOut, 400: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            summary="List lines (filter, search, sort, cursor paging)")
def lines_list(request: HttpRequest, query: Query[LineQuery]) -> dict[str, Any]:
    tenant = _tenant(request)
    filters = LineFilters(status=query.status, carrier=query.carrier, sim_type=query.sim_type, plan=query.plan,
                          q=query.q)
    page = line_list(tenant=tenant, filters=filters, sort=query.sort, cursor=query.cursor, size=query.limit,
                     user=_user(request))
    body: dict[str, Any] = {"items": page.items, "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}
    if query.with_count:
        body["count"] = line_count(tenant=tenant, filters=filters, user=_user(request))
    return body


@router.get("/by-msisdn/{msisdn}", response={200: LineOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Get a line by phone number")
def line_by_msisdn(request: HttpRequest, msisdn: str) -> Line:
    return line_get(tenant=_tenant(request), msisdn=msisdn, user=_user(request))


@router.get("/by-iccid/{iccid}", response={200: LineOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Get a line by SIM serial number (ICCID)")
def line_by_iccid(request: HttpRequest, iccid: str) -> Line:
    return line_get(tenant=_tenant(request), iccid=iccid, user=_user(request))


@router.get("/{int:line_id}", response={200: LineOut, 403: ErrorOut, 404: ErrorOut}, summary="Get a line by ID")
def line_by_id(request: HttpRequest, line_id: Id) -> Line:
    return line_get(tenant=_tenant(request), line_id=line_id, user=_user(request))
