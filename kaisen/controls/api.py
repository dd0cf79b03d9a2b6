"""The customer's notices, service hours and switches over the API (issue 15 §2–§4)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema

from kaisen.controls import services
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import Id
from kaisen.core.schemas import ErrorOut

router = Router(tags=["notices"])


class NoticeOut(Schema):
    id: int
    title: str
    body: str
    importance: str = Field(description="`normal` or `important`.")
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    is_read: bool


class NoticeListOut(Schema):
    items: list[NoticeOut]
    unread: int


class HoursOut(Schema):
    function: str
    label: str
    hours: str


class SwitchOut(Schema):
    function: str
    label: str
    enabled: bool


class WindowOut(Schema):
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    functions: list[str]
    reads_allowed: bool
    in_progress: bool
    message: str


class CalendarChangeOut(Schema):
    day: str = Field(description="`YYYY-MM-DD`, or `MM-DD` for a day closed or opened every year.")
    yearly: bool
    closed: bool = Field(description="true: the day is closed from `effective_from`; false: open again.")
    effective_from: dt.date = Field(description="The change applies to days from this date on.")
    changed_at: dt.datetime


class ServiceStatusOut(Schema):
    hours: list[HoursOut]
    switches: list[SwitchOut]
    maintenance: list[WindowOut]
    closed_days: list[dt.date] = Field(description="Days the company calendar closes in the next twelve months "
                                                   "(weekends and public holidays aside).")
    calendar_changes: list[CalendarChangeOut] = Field(description="The latest changes to the company calendar, "
                                                                  "the latest effective first.")


def _tenant(request: HttpRequest) -> object:
    tenant = getattr(request.user, "tenant", None)
    if tenant is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    return tenant


def _out(notice: object) -> NoticeOut:
    return NoticeOut(id=notice.pk, title=notice.title, body=notice.body,  # type: ignore[attr-defined]
                     importance=notice.importance, starts_at=notice.starts_at,  # type: ignore[attr-defined]
                     ends_at=notice.ends_at, is_read=bool(getattr(notice, "is_read", False)))  # type: ignore[attr-defined]


@router.get("/notices", response={200: NoticeListOut, 401: ErrorOut, 403: ErrorOut}, summary="List notices")
def notice_list(request: HttpRequest) -> NoticeListOut:
    """The operator's notices shown to your company now, newest first (at most 100), with the unread count."""
    tenant = _tenant(request)
    notices = list(services.notices_visible(tenant=tenant, user=request.user)[:100])  # type: ignore[arg-type]
    return NoticeListOut(items=[_out(n) for n in notices],
                         unread=services.notice_unread_count(tenant=tenant, user=request.user))  # type: ignore[arg-type]


@router.get("/notices/{int:notice_id}", response={200: NoticeOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Read a notice")
def notice_detail(request: HttpRequest, notice_id: Id) -> NoticeOut:
    """One notice; reading it marks it as read for you."""
    notice = services.notice_mark_read(tenant=_tenant(request), user=request.user,  # type: ignore[arg-type]
                                       notice_id=notice_id)
    return _out(notice)


@router.get("/service", response={200: ServiceStatusOut, 401: ErrorOut, 403: ErrorOut},
            summary="Service hours and status", tags=["service"])
def service(request: HttpRequest) -> ServiceStatusOut:
    """Reception hours in force, the closed days of the company calendar and its latest changes, which functions
    your contract includes, and announced maintenance."""
    tenant = _tenant(request)
    now = services.clock.now()
    windows = services.announced_windows(tenant.pk)  # type: ignore[attr-defined]
    return ServiceStatusOut(
        hours=[HoursOut(**h) for h in services.hours_in_force()],
        switches=[SwitchOut(**s) for s in services.switches_for(tenant.pk, customer=True)],  # type: ignore[attr-defined]
        maintenance=[WindowOut(id=w.id, starts_at=w.starts_at, ends_at=w.ends_at, functions=sorted(w.functions),
                               reads_allowed=w.reads_allowed, in_progress=w.active(now),
                               message=services.window_banner(w, now)) for w in windows],
        closed_days=services.closed_days_ahead(),
        calendar_changes=[CalendarChangeOut(day=c.day_label, yearly=c.yearly, closed=c.closed,
                                            effective_from=c.effective_from, changed_at=c.created_at)
                          for c in services.closed_day_history()[:services.CALENDAR_CHANGES_SHOWN]])
