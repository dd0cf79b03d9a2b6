"""Reading lines. Every function takes the tenant: no line is reachable without it (T-2)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from kaisen.access import actions
from kaisen.access.services import authorize, can, line_scope
from kaisen.carriers.models import Carrier
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.numbers import iccid_normalize, looks_like_iccid, msisdn_normalize
from kaisen.core.paging import Page, SortKey, keyset_page, keyset_position
from kaisen.lines.models import Line, LinePeriod, LineStatus, Plan, SimType
from kaisen.tenancy.models import Tenant

SORTS: dict[str, SortKey] = {
    "msisdn": SortKey("msisdn", nullable=True),
    "-msisdn": SortKey("msisdn", descending=True, nullable=True),
    "iccid": SortKey("iccid"),
    "-iccid": SortKey("iccid", descending=True),
    "started_on": SortKey("started_on", nullable=True),
    "-started_on": SortKey("started_on", descending=True, nullable=True),
}
DEFAULT_SORT = "msisdn"
MAX_PAGE_SIZE = 500
_NON_DIGITS = re.compile(r"[\s\-‐－()（）]")


@dataclass(frozen=True)
class LineFilters:
    status: str = ""
    carrier: str = ""
    sim_type: str = ""
    plan: str = ""
    q: str = ""


def _prefix_range(field: str, prefix: str) -> Q:
    # A range rather than LIKE: both databases answer it from the (tenant, field) index.
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + ":"})


def line_filter_qs(*, tenant: Tenant, filters: LineFilters, user: Any = None) -> QuerySet[Line]:
    """The tenant's lines matching ``filters``; with ``user``, only the lines they may see (issue 5 §1), and
    ``Line:read`` is required."""
    if user is not None:
        authorize(user=user, action=actions.LINE_READ)
    qs = Line.objects.filter(tenant=tenant).filter(line_scope(user=user))
    checks = (
        ("status", filters.status, LineStatus.values),
        ("carrier", filters.carrier, Carrier.values),
        ("sim_type", filters.sim_type, SimType.values),
    )
    for field, value, allowed in checks:
        if value:
            if value not in allowed:
                message = _("'%(value)s' is not a valid %(field)s.") % {"value": value, "field": field}
                raise DomainError(ErrorCode.VALIDATION_ERROR, message, field=field)
            qs = qs.filter(**{field: value})
    if filters.plan:
        qs = qs.filter(plan__code=filters.plan)
    q = _NON_DIGITS.sub("", filters.q or "").translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if q:
        if not q.isdigit():
            raise DomainError(ErrorCode.VALIDATION_ERROR,
                              _("Search by phone number or SIM serial number, digits only."), field="q")
        if q.startswith("89") and len(q) > 11:
            qs = qs.filter(_prefix_range("iccid", q))
        else:
            qs = qs.filter(_prefix_range("msisdn", q))
    return qs


def line_list(*, tenant: Tenant, filters: LineFilters, sort: str = DEFAULT_SORT, cursor: str | None = None,
              size: int = 50, user: Any = None) -> Page[Line]:
    if sort not in SORTS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown sort order '%(sort)s'.") % {"sort": sort},
                          field="sort")
    size = max(1, min(size, MAX_PAGE_SIZE))
    qs = line_filter_qs(tenant=tenant, filters=filters, user=user).select_related("plan")
    return keyset_page(qs, key=SORTS[sort], size=size, cursor=cursor)


def line_export_qs(*, tenant: Tenant, filters: LineFilters, sort: str = DEFAULT_SORT,
                   user: Any = None) -> QuerySet[Line]:
    """Every line of the filtered list, in the list's order (issue 14: export the filtered list as CSV)."""
    if sort not in SORTS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown sort order '%(sort)s'.") % {"sort": sort},
                          field="sort")
    key = SORTS[sort]
    field = models.F(key.field)
    order = field.desc(nulls_last=True) if key.descending else field.asc(nulls_last=True)
    return line_filter_qs(tenant=tenant, filters=filters, user=user).select_related("plan").order_by(order, "pk")


def line_position(*, tenant: Tenant, filters: LineFilters, sort: str, first: Line, user: Any = None) -> int:
    """The 0-based position of ``first`` (a page's first line) in the filtered, sorted list."""
    return keyset_position(line_filter_qs(tenant=tenant, filters=filters, user=user), key=SORTS[sort], item=first)


def line_count(*, tenant: Tenant, filters: LineFilters, user: Any = None) -> int:
    return line_filter_qs(tenant=tenant, filters=filters, user=user).count()


def line_get(*, tenant: Tenant, line_id: int | None = None, msisdn: str | None = None,
             iccid: str | None = None, user: Any = None, action: str | None = actions.LINE_READ) -> Line:
    """One line of ``tenant`` by ID, phone number or SIM serial; another tenant's line is NotFound.

    With ``user`` (every interface passes it): ``action`` is required (``Line:read`` unless the caller checks
    its own, e.g. a procedure's), and a line outside the user's lines is NotFound too (issue 5 §1)."""
    if user is not None and action is not None:
        authorize(user=user, action=action)
    # The tenant is known: set on the line instead of joined (a lookup is on the API's hot path, issue 11 §2).
    qs = Line.objects.filter(tenant=tenant).filter(line_scope(user=user)).select_related("plan")
    if line_id is not None:
        line = qs.filter(pk=line_id).first()
    elif msisdn is not None:
        # A number can come back to the pool and be reissued; the live line wins over a cancelled one. A number
        # has a handful of lines at most: chosen here rather than by an ORDER BY expression to compile per call.
        line = min(qs.filter(msisdn=msisdn_normalize(msisdn)),
                   key=lambda row: (row.status == LineStatus.CANCELLED, -row.pk), default=None)
    elif iccid is not None:
        line = qs.filter(iccid=iccid_normalize(iccid)).first()
    else:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give a line ID, phone number or SIM serial number."))
    if line is None:
        raise NotFound(_("No such line."))
    line.tenant = tenant
    return line


def line_lookup(*, tenant: Tenant, query: str, user: Any = None, action: str | None = actions.LINE_READ) -> Line:
    """Status lookup (M-LINE-1): the search box takes either a phone number or a SIM serial."""
    if looks_like_iccid(query):
        return line_get(tenant=tenant, iccid=query, user=user, action=action)
    return line_get(tenant=tenant, msisdn=query, user=user, action=action)


def plan_list(*, carrier: str = "") -> QuerySet[Plan]:
    qs = Plan.objects.filter(is_active=True)
    if carrier:
        qs = qs.filter(carrier=carrier)
    return qs.order_by("carrier", "code")


@dataclass(frozen=True)
class LineSummary:
    """How many lines a tenant holds, by status and by carrier (home dashboard)."""

    total: int
    by_status: dict[str, int]
    by_carrier: dict[str, int]


def line_summary(*, tenant: Tenant, user: Any = None) -> LineSummary:
    """One GROUP BY (status, carrier) query, an index-only scan of (tenant, status, carrier); with ``user``,
    only the lines they may see (none without ``Line:read``)."""
    if user is not None and not can(user=user, action=actions.LINE_READ):
        return LineSummary(total=0, by_status=dict.fromkeys(LineStatus.values, 0), by_carrier={})
    rows = (
        Line.objects.filter(tenant=tenant).filter(line_scope(user=user)).order_by()
        .values_list("status", "carrier").annotate(n=Count("*"))
    )
    by_status = dict.fromkeys(LineStatus.values, 0)
    by_carrier: dict[str, int] = {}
    total = 0
    for status, carrier, n in rows:
        by_status[status] = by_status.get(status, 0) + n
        by_carrier[carrier] = by_carrier.get(carrier, 0) + n
        total += n
    return LineSummary(total=total, by_status=by_status, by_carrier=by_carrier)


# --- line history (issue 10 §1) ---------------------------------------------------------------------

def line_history(*, tenant: Tenant, line: Line) -> list[LinePeriod]:
    """The intervals of ``line`` that belong to ``tenant``, oldest first. ``line`` comes from ``line_get``
    (which checked the tenant and the user); intervals from before a SIM transfer to ``tenant`` belong to
    the sending tenant and are not shown."""
    return list(LinePeriod.objects.filter(tenant=tenant, line=line).select_related("plan").order_by("valid_from"))


def line_as_of(*, tenant: Tenant, line_id: int, at: dt.datetime) -> LinePeriod | None:
    """The line as it was at ``at`` (aware), if it was ``tenant``'s then: the interval with
    ``valid_from <= at < valid_to``; None before its history starts or while another tenant held it."""
    return (LinePeriod.objects.filter(tenant=tenant, line_id=line_id, valid_from__lte=at)
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at)).select_related("plan").first())


def line_periods_overlapping(*, tenant: Tenant, start: dt.datetime, end: dt.datetime) -> QuerySet[LinePeriod]:
    """Every interval of ``tenant`` in force at some moment of ``[start, end)`` (e.g. a billing month from
    00:00 JST of its 1st to 00:00 JST of the next 1st): the set rating joins."""
    return LinePeriod.objects.filter(tenant=tenant, valid_from__lt=end).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=start))


def as_of_parse(text: str) -> dt.datetime:
    """An "as of" moment typed by a user: ``YYYY-MM-DD`` (00:00 Japan time that day) or an ISO date and
    time; without an offset it is Japan time."""
    from kaisen.core import clock

    raw = (text or "").strip().replace(" ", "T")
    try:
        if len(raw) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(0), tzinfo=clock.JST)
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_DATE,
                          _("'%(value)s' is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM).")
                          % {"value": text}, field="at") from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=clock.JST)
    try:
        # Held in UTC: PostgreSQL takes offsets up to ±15:59 only (issue 14, as ``UtcDateTime``).
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it: the ends of time, no line then
        end = dt.datetime.min if moment.year == 1 else dt.datetime.max
        return end.replace(tzinfo=dt.UTC)
