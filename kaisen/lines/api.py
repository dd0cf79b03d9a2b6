from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import WithJsonSchema

from kaisen.accounts.models import User
from kaisen.carriers.models import Carrier
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.ids import Id, Int64
from kaisen.core.schemas import ErrorOut, one_of, path_text
from kaisen.lines.models import Line, LinePeriod, LineStatus, SimType
from kaisen.lines.selectors import (
    DEFAULT_SORT,
    SORTS,
    LineFilters,
    as_of_parse,
    line_as_of,
    line_count,
    line_get,
    line_history,
    line_list,
)

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


if TYPE_CHECKING:
    StatusFilter = str
    CarrierFilter = str
    SimTypeFilter = str
    LineSort = str
else:
    # The values ``selectors.line_filter_qs`` takes ("": no filter) and the keys of ``selectors.SORTS``.
    StatusFilter = one_of(["", *LineStatus.values])
    CarrierFilter = one_of(["", *Carrier.values])
    SimTypeFilter = one_of(["", *SimType.values])
    LineSort = one_of(SORTS)
#: ``q``: digits (ASCII or full-width) and the separators ``selectors`` drops; stricter than its ``isdigit``.
SEARCH_PATTERN = r"^[0-9\uff10-\uff19 \u3000\t\-\u2010\uff0d()\uff08\uff09]*$"


class LineQuery(Schema):
    status: StatusFilter = ""
    carrier: CarrierFilter = ""
    sim_type: SimTypeFilter = ""
    plan: str = ""
    q: str = Field("", pattern=SEARCH_PATTERN,
                   description="Digits of a phone number or SIM serial number (spaces, hyphens, brackets ignored).")
    sort: LineSort = DEFAULT_SORT
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


#: What the document states of the two lookups' path parameters (issue 14: schemathesis
#: ``positive_data_acceptance``). A value of that form which no line can hold (a number outside the mobile
#: ranges, an ICCID whose check digit is wrong) answers 404, with the service's message saying why; any other
#: form the service reads (full-width digits, spaces) is still read, as before.
MSISDN_PATTERN = r"^(?:0|\+81-?)[2789]0-?[0-9]{4}-?[0-9]{4}$"
ICCID_PATTERN = r"^89[0-9]{17,18}$"

if TYPE_CHECKING:
    MsisdnPath = str
    IccidPath = str
else:
    MsisdnPath = path_text(MSISDN_PATTERN, "A mobile number: 11 digits (020, 070, 080, 090), hyphens allowed, "
                                           "or the +81 form. A number no line can hold answers 404.")
    IccidPath = path_text(ICCID_PATTERN, "The SIM serial number: 19 or 20 digits starting with 89, the last "
                                         "being the Luhn check digit; with a wrong check digit it is no line's "
                                         "serial: 404.")


def _lookup(request: HttpRequest, pattern: str, value: str, code: ErrorCode, **by: Any) -> Line:
    try:
        return line_get(tenant=_tenant(request), user=_user(request), **by)
    except DomainError as exc:
        if exc.code == code and re.fullmatch(pattern, value):
            raise NotFound(exc.message) from exc  # the documented form, but no line can have it
        raise


@router.get("/by-msisdn/{msisdn}", response={200: LineOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Get a line by phone number")
def line_by_msisdn(request: HttpRequest, msisdn: MsisdnPath) -> Line:
    return _lookup(request, MSISDN_PATTERN, msisdn, ErrorCode.INVALID_PHONE_NUMBER, msisdn=msisdn)


@router.get("/by-iccid/{iccid}", response={200: LineOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Get a line by SIM serial number (ICCID)")
def line_by_iccid(request: HttpRequest, iccid: IccidPath) -> Line:
    return _lookup(request, ICCID_PATTERN, iccid, ErrorCode.INVALID_ICCID, iccid=iccid)


@router.get("/{int:line_id}", response={200: LineOut, 403: ErrorOut, 404: ErrorOut}, summary="Get a line by ID")
def line_by_id(request: HttpRequest, line_id: Id) -> Line:
    return line_get(tenant=_tenant(request), line_id=line_id, user=_user(request))


class LinePeriodOut(Schema):
    """One interval of a line's history: its state from ``valid_from`` (inclusive) to ``valid_to``
    (exclusive; null = still in force). Times are Japan time."""

    valid_from: dt.datetime
    valid_to: dt.datetime | None
    plan_code: str
    plan_name: str
    plan_name_en: str
    coverage: str
    carrier: str
    status: str
    voice_options: dict[str, Any]
    data_cap_mb: int | None
    sim_size: str
    iccid: str
    msisdn: str | None
    reason: str
    order_id: int | None

    @staticmethod
    def resolve_valid_from(obj: LinePeriod) -> dt.datetime:
        return obj.valid_from.astimezone(clock.JST)

    @staticmethod
    def resolve_valid_to(obj: LinePeriod) -> dt.datetime | None:
        return obj.valid_to.astimezone(clock.JST) if obj.valid_to else None

    @staticmethod
    def resolve_plan_code(obj: LinePeriod) -> str:
        return obj.plan.code

    @staticmethod
    def resolve_plan_name(obj: LinePeriod) -> str:
        return obj.plan.name

    @staticmethod
    def resolve_plan_name_en(obj: LinePeriod) -> str:
        return obj.plan.name_en


if TYPE_CHECKING:
    AsOf = str
else:
    #: ``at`` of the history: what the document states (issue 14); the service reads it (``as_of_parse``) and
    #: refuses any other text with its own 400 ``INVALID_DATE`` and a message showing the expected format.
    AsOf = Annotated[str, WithJsonSchema({
        "type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}],
        "description": "A date (YYYY-MM-DD: 00:00 Japan time) or a date and time (without an offset: Japan "
                       "time)."})]


class LineHistoryOut(Schema):
    line_id: int
    items: list[LinePeriodOut]


@router.get("/{int:line_id}/history", response={200: LineHistoryOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                                 422: ErrorOut},
            summary="A line's history (plan, status, options, SIM over time), or the line as of a moment")
def line_history_api(request: HttpRequest, line_id: Id, at: AsOf | None = None) -> dict[str, Any]:
    """Every interval of the line while it belonged to your account, oldest first. With ``at``
    (``YYYY-MM-DD`` = 00:00 Japan time, or an ISO date-time; no offset = Japan time), only the interval in
    force at that moment (an empty list if there was none)."""
    tenant = _tenant(request)
    line = line_get(tenant=tenant, line_id=line_id, user=_user(request))
    if at is not None:  # an empty `at` is no date (the document says so): 400 INVALID_DATE
        period = line_as_of(tenant=tenant, line_id=line.pk, at=as_of_parse(at))
        return {"line_id": line.pk, "items": [period] if period else []}
    return {"line_id": line.pk, "items": line_history(tenant=tenant, line=line)}
