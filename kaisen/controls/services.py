"""Operator controls: maintenance windows, reception hours, closed days, notices, service switches (issue 15).

Staff change them in the back office (``kaisen.controls.admin``) or with ``kaisen admin controls …``; both call
these services, which validate, write in one transaction, audit (``controls.*``) and bump the controls
version so every process sees the change within seconds (``kaisen.controls.cache``). The customer side asks
``maintenance_refusal``, ``switch_refusal`` and the notice selectors.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import override

from kaisen.audit.services import audit_record
from kaisen.controls import cache
from kaisen.controls import functions as fn
from kaisen.controls.hours import yearly_key
from kaisen.controls.models import (
    ClosedDay,
    MaintenanceWindow,
    Notice,
    NoticeImportance,
    NoticeRead,
    OperatorSwitch,
    ReceptionHours,
    ServiceSwitch,
)
from kaisen.core import calendar, clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.tenancy.models import Tenant

#: The banner appears this long before a window starts unless staff say otherwise.
DEFAULT_ANNOUNCE = dt.timedelta(days=3)


def _jst(at: dt.datetime) -> str:
    return f"{at.astimezone(clock.JST):%Y-%m-%d %H:%M}"


def _tenants(items: Iterable[Any] | None) -> list[Tenant]:
    """Tenants given as objects or operator IDs (public IDs); an unknown one is refused."""
    out: list[Tenant] = []
    for item in items or []:
        if isinstance(item, Tenant):
            out.append(item)
            continue
        tenant = Tenant.objects.filter(public_id=str(item).strip()).first()
        if tenant is None:
            raise DomainError(ErrorCode.NOT_FOUND, _("No tenant with operator ID %(id)s.") % {"id": item},
                              field="tenants")
        out.append(tenant)
    return out


def _check_period(starts_at: dt.datetime, ends_at: dt.datetime | None, *, field: str = "ends_at") -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise DomainError(ErrorCode.INVALID_PERIOD, field=field)


def _text(value: str, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Enter 1 to %(n)s characters.") % {"n": limit}, field=field)
    return value


def _audit(action: str, *, actor: str, user: Any = None, target: Any = None, tenant: Any = None,
           changes: dict[str, Any] | None = None) -> None:
    audit_record(action=action, tenant=tenant, user=user, actor=actor or "staff", target=target,
                 changes=changes or {})


# --- maintenance windows -------------------------------------------------------------------------------------

def window_schedule(*, starts_at: dt.datetime, ends_at: dt.datetime, functions: list[str], reason_ja: str,
                    reason_en: str, tenants: Iterable[Any] | None = None, reads_allowed: bool = False,
                    announce_from: dt.datetime | None = None, actor: str = "", user: Any = None) -> MaintenanceWindow:
    """Schedule a window for the whole portal or named functions, for all tenants (``tenants`` empty) or some."""
    now = clock.now()
    _check_period(starts_at, ends_at)
    if ends_at <= now:
        raise DomainError(ErrorCode.INVALID_PERIOD, _("The window must end in the future."), field="ends_at")
    codes = sorted({str(f).strip() for f in functions or []})
    if not codes:
        raise DomainError(ErrorCode.UNKNOWN_FUNCTION, _("Name at least one function."), field="functions")
    unknown = [c for c in codes if c not in fn.WINDOW_FUNCTIONS]
    if unknown:
        raise DomainError(ErrorCode.UNKNOWN_FUNCTION, _("Unknown function: %(names)s.") % {"names": ", ".join(unknown)},
                          field="functions", details={"known": list(fn.WINDOW_FUNCTIONS)})
    reason_ja, reason_en = _text(reason_ja, "reason_ja", 300), _text(reason_en, "reason_en", 300)
    announce = announce_from or starts_at - DEFAULT_ANNOUNCE
    if announce > starts_at:
        raise DomainError(ErrorCode.INVALID_PERIOD, _("The announcement must start before the window."),
                          field="announce_from")
    chosen = _tenants(tenants)
    with transaction.atomic():
        window = MaintenanceWindow.objects.create(
            starts_at=starts_at, ends_at=ends_at, announce_from=announce, functions=codes,
            all_tenants=not chosen, reads_allowed=reads_allowed, reason_ja=reason_ja, reason_en=reason_en,
            created_by=actor[:100])
        window.tenants.set(chosen)
        _audit("controls.window.schedule", actor=actor, user=user, target=window, changes={
            "starts_at": [None, starts_at], "ends_at": [None, ends_at], "functions": [None, codes],
            "tenants": [None, [t.public_id for t in chosen] or "all"], "reads_allowed": [None, reads_allowed]})
        cache.bump()
    return window


def _window_for_change(window_id: int) -> MaintenanceWindow:
    window = MaintenanceWindow.objects.select_for_update().filter(pk=window_id).first()
    if window is None:
        raise NotFound(_("No such maintenance window."))
    if window.cancelled_at is not None or window.ends_at <= clock.now():
        raise DomainError(ErrorCode.WINDOW_NOT_CHANGEABLE)
    return window


def window_end(*, window_id: int, actor: str = "", user: Any = None) -> MaintenanceWindow:
    """End a running window now, or cancel one that has not started."""
    with transaction.atomic():
        window = _window_for_change(window_id)
        now = clock.now()
        if window.starts_at > now:
            window.cancelled_at = now
            window.save(update_fields=["cancelled_at", "updated_at"])
            _audit("controls.window.cancel", actor=actor, user=user, target=window,
                   changes={"cancelled_at": [None, now]})
        else:
            before = window.ends_at
            window.ends_at = now
            window.save(update_fields=["ends_at", "updated_at"])
            _audit("controls.window.end", actor=actor, user=user, target=window, changes={"ends_at": [before, now]})
        cache.bump()
    return window


def window_extend(*, window_id: int, ends_at: dt.datetime, actor: str = "", user: Any = None) -> MaintenanceWindow:
    """Move a window's end (later, or earlier but still in the future)."""
    with transaction.atomic():
        window = _window_for_change(window_id)
        _check_period(window.starts_at, ends_at)
        if ends_at <= clock.now():
            raise DomainError(ErrorCode.INVALID_PERIOD, _("The window must end in the future."), field="ends_at")
        before = window.ends_at
        window.ends_at = ends_at
        window.save(update_fields=["ends_at", "updated_at"])
        _audit("controls.window.extend", actor=actor, user=user, target=window, changes={"ends_at": [before, ends_at]})
        cache.bump()
    return window


def _covers(window: cache.WindowInfo, function: str) -> bool:
    names = window.functions
    return (fn.PORTAL in names or function in names
            or (function.startswith("procedure.") and fn.PROCEDURES in names))


def active_window(function: str, tenant_id: int | None, *, at: dt.datetime | None = None,
                  write: bool = True) -> cache.WindowInfo | None:
    """The window closing ``function`` for the tenant now (``write=False``: a safe read, which a window with
    ``reads_allowed`` lets through). The one ending last if several overlap."""
    at = at or clock.now()
    found = [w for w in cache.get().windows
             if w.active(at) and w.applies_to(tenant_id) and _covers(w, function)
             and (write or not w.reads_allowed)]
    return max(found, key=lambda w: w.ends_at) if found else None


def reopens_at(function: str, tenant_id: int | None, at: dt.datetime | None = None) -> dt.datetime | None:
    """When ``function`` is open again for the tenant (after back-to-back windows), or None if open now."""
    at = at or clock.now()
    reopen = None
    for _i in range(20):
        window = active_window(function, tenant_id, at=at)
        if window is None:
            return reopen
        reopen = at = window.ends_at
    return reopen


def window_message(window: cache.WindowInfo, function: str = "") -> str:
    reason = window.reason_en if _english() else window.reason_ja
    what = fn.window_function_label(function) if function and fn.PORTAL not in window.functions else _("The portal")
    return _("%(what)s: closed for maintenance until %(until)s (Japan time). %(reason)s") % {
        "what": what, "until": _jst(window.ends_at), "reason": reason}


def _english() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "ja").startswith("en")


def maintenance_refusal(function: str, tenant_id: int | None, *, at: dt.datetime | None = None,
                        write: bool = True) -> DomainError | None:
    """``MAINTENANCE`` (HTTP 503) if a window closes ``function`` for the tenant now, saying when it reopens."""
    at = at or clock.now()
    window = active_window(function, tenant_id, at=at, write=write)
    if window is None:
        return None
    until = reopens_at(function, tenant_id, at) or window.ends_at
    return DomainError(ErrorCode.MAINTENANCE, window_message(window, function), details={
        "window_id": window.id, "until": until.astimezone(clock.JST).isoformat(),
        "retry_after": max(1, math.ceil((until - at).total_seconds()))})


def announced_windows(tenant_id: int | None, at: dt.datetime | None = None) -> list[cache.WindowInfo]:
    """Windows to announce to the tenant now: from ``announce_from`` until they end, soonest first."""
    at = at or clock.now()
    return sorted((w for w in cache.get().windows
                   if w.announce_from <= at < w.ends_at and w.applies_to(tenant_id)),
                  key=lambda w: (w.starts_at, w.id))


def window_banner(window: cache.WindowInfo, at: dt.datetime | None = None) -> str:
    at = at or clock.now()
    reason = window.reason_en if _english() else window.reason_ja
    what = (", " if _english() else "、").join(fn.window_function_label(f) for f in sorted(window.functions))
    if window.active(at):
        return _("Maintenance in progress until %(until)s (Japan time): %(what)s. %(reason)s") % {
            "until": _jst(window.ends_at), "what": what, "reason": reason}
    return _("Scheduled maintenance from %(start)s to %(until)s (Japan time): %(what)s. %(reason)s") % {
        "start": _jst(window.starts_at), "until": _jst(window.ends_at), "what": what, "reason": reason}


def window_header(window: cache.WindowInfo) -> str:
    """The ``Kaisen-Maintenance`` header value: machine-readable, ASCII."""
    return (f'id={window.id}; start={window.starts_at.isoformat()}; end={window.ends_at.isoformat()}; '
            f'functions={",".join(sorted(window.functions))}')


# --- reception hours and closed days -------------------------------------------------------------------------

def _parse_time(value: Any, field: str) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0)
    try:
        return dt.time.fromisoformat(str(value).strip()).replace(second=0, microsecond=0)
    except ValueError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give a time as HH:MM."), field=field) from exc


def hours_set(*, function: str, opens: Any, closes: Any, effective_from: dt.datetime | None = None, note: str = "",
              actor: str = "", user: Any = None) -> ReceptionHours:
    """Add hours for ``function`` in force from ``effective_from`` (now by default); the old rows stay (history)."""
    function = (function or "").strip()
    if function not in fn.HOURS_FUNCTIONS:
        raise DomainError(ErrorCode.UNKNOWN_FUNCTION, _("Unknown function: %(names)s.") % {"names": function},
                          field="function", details={"known": list(fn.HOURS_FUNCTIONS)})
    start, end = _parse_time(opens, "opens"), _parse_time(closes, "closes")
    if end <= start:
        raise DomainError(ErrorCode.INVALID_PERIOD, _("The closing time must be after the opening time."),
                          field="closes")
    now = clock.now()
    when = effective_from or now
    if when < now - dt.timedelta(minutes=1):
        raise DomainError(ErrorCode.INVALID_PERIOD, _("Hours cannot be changed in the past."), field="effective_from")
    with transaction.atomic():
        row = ReceptionHours.objects.create(function=function, opens=start, closes=end, effective_from=when,
                                            note=(note or "")[:200], created_by=actor[:100])
        _audit("controls.hours.set", actor=actor, user=user, target=row, changes={
            "function": [None, function or "*"], "hours": [None, f"{start:%H:%M}-{end:%H:%M}"],
            "effective_from": [None, when]})
        cache.bump()
    return row


def hours_in_force(at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every function's hours now, as customers and staff see them."""
    at = at or clock.now()
    out = []
    for code, label in fn.HOURS_FUNCTIONS.items():
        if code.startswith("carrier."):
            carrier = code.split(".", 1)[1]
            opens = calendar.carrier_opening(carrier, dt.time(10, 0) if carrier == "softbank" else None, at)
            text = f"{opens:%H:%M}–" if opens else ""
        else:
            kind = code.split(".", 1)[1] if code.startswith("procedure.") else ""
            text = calendar.reception_window(kind, at).label()
        out.append({"function": code, "label": str(label), "hours": text})
    return out


def hours_history(function: str | None = None) -> QuerySet[ReceptionHours]:
    qs = ReceptionHours.objects.all()
    if function is not None:
        qs = qs.filter(function=function)
    return qs.order_by("function", "-effective_from", "-id")


def closed_day_in_force(day: dt.date, yearly: bool, on: dt.date) -> bool:
    """Whether ``day`` (once, or its month and day every year) is closed by the changes in force on ``on``
    (the environment's defaults where no change is)."""
    key = yearly_key(day) if yearly else day
    row = (ClosedDay.objects.filter(day=key, yearly=yearly, effective_from__lte=on)
           .order_by("-effective_from", "-id").values_list("closed", flat=True).first())
    if row is not None:
        return bool(row)
    env_yearly, env_once = calendar.EnvironmentHours().closed_days()
    return day.strftime("%m-%d") in env_yearly if yearly else day in env_once


def closed_day_check(*, day: dt.date, yearly: bool, closed: bool,
                     effective_from: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Validate a change to the calendar; returns the stored day and the date it takes effect.

    Refused: a change effective before today, a single day's change effective after that day (it would never
    apply), closing a day already closed or opening one that is not closed (as of the effective date)."""
    today = clock.today_jst()
    when = effective_from or today
    if when < today:
        raise DomainError(ErrorCode.INVALID_PERIOD, _("The calendar cannot be changed in the past."),
                          field="effective_from")
    if not yearly and day < today:
        raise DomainError(ErrorCode.INVALID_PERIOD, _("A day gone by cannot be changed."), field="day")
    if not yearly and when > day:
        raise DomainError(ErrorCode.INVALID_PERIOD, _("The change must take effect on or before the day itself."),
                          field="effective_from")
    if closed_day_in_force(day, yearly, when) == closed:
        if closed:
            raise DomainError(ErrorCode.DUPLICATE, _("This day is already closed."), field="day")
        raise DomainError(ErrorCode.NOT_FOUND, _("This day is not closed."), field="day")
    return (yearly_key(day) if yearly else day), when


def _closed_day_change(*, day: dt.date, yearly: bool, closed: bool, effective_from: dt.date | None, note: str,
                       actor: str, user: Any) -> ClosedDay:
    with transaction.atomic():
        stored, when = closed_day_check(day=day, yearly=yearly, closed=closed, effective_from=effective_from)
        row = ClosedDay.objects.create(day=stored, yearly=yearly, closed=closed, effective_from=when,
                                       note=(note or "")[:200], created_by=actor[:100])
        label = row.day_label
        _audit("controls.closed_day.add" if closed else "controls.closed_day.remove", actor=actor, user=user,
               target=row, changes={"day": [None, label] if closed else [label, None],
                                    "effective_from": [None, when]})
        cache.bump()
    return row


def closed_day_add(*, day: dt.date, yearly: bool = False, effective_from: dt.date | None = None, note: str = "",
                   actor: str = "", user: Any = None) -> ClosedDay:
    """Close a day (once, or every year) from ``effective_from`` (today by default). A row is added; the
    earlier ones stay (the history)."""
    return _closed_day_change(day=day, yearly=yearly, closed=True, effective_from=effective_from, note=note,
                              actor=actor, user=user)


def closed_day_remove(*, closed_day_id: int | None = None, day: dt.date | None = None, yearly: bool = False,
                      effective_from: dt.date | None = None, note: str = "", actor: str = "",
                      user: Any = None) -> ClosedDay:
    """Open a closed day again from ``effective_from`` (today by default): the day is named by a row of its
    history (``closed_day_id``) or given (``day``, ``yearly``). A row is added; the earlier ones stay."""
    if closed_day_id is not None:
        found = ClosedDay.objects.filter(pk=closed_day_id).first()
        if found is None:
            raise NotFound(_("No such closed day."))
        day, yearly = found.day, found.yearly
    if day is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Name the day."), field="day")
    return _closed_day_change(day=day, yearly=yearly, closed=False, effective_from=effective_from, note=note,
                              actor=actor, user=user)


#: How many of the latest calendar changes customers are shown.
CALENDAR_CHANGES_SHOWN = 20


def closed_day_history() -> QuerySet[ClosedDay]:
    """Every change to the company calendar, the latest effective first."""
    return ClosedDay.objects.order_by("-effective_from", "-id")


def closed_days_ahead(start: dt.date | None = None, days: int = 366) -> list[dt.date]:
    """The days the company calendar closes (weekends and public holidays aside) from ``start`` (today)
    for ``days`` days, each by the calendar in force on that day."""
    first = start or clock.today_jst()
    source = calendar.hours_source()
    return [d for d in (first + dt.timedelta(days=i) for i in range(days)) if source.is_closed_day(d)]


# --- notices ---------------------------------------------------------------------------------------------------

NOTICE_TOPIC = "notice"


def notice_publish(*, title_ja: str, title_en: str, body_ja: str, body_en: str,
                   importance: str = NoticeImportance.NORMAL, starts_at: dt.datetime | None = None,
                   ends_at: dt.datetime | None = None, tenants: Iterable[Any] | None = None, actor: str = "",
                   user: Any = None) -> Notice:
    """Publish a notice to all tenants (``tenants`` empty) or some; an important one is also mailed to each
    tenant's contact addresses when it starts."""
    if importance not in NoticeImportance.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose normal or important."), field="importance")
    now = clock.now()
    starts = starts_at or now
    _check_period(starts, ends_at)
    if ends_at is not None and ends_at <= now:
        raise DomainError(ErrorCode.INVALID_PERIOD, _("The notice must be shown until a moment in the future."),
                          field="ends_at")
    chosen = _tenants(tenants)
    with transaction.atomic():
        notice = Notice.objects.create(
            title_ja=_text(title_ja, "title_ja", 200), title_en=_text(title_en, "title_en", 200),
            body_ja=_text(body_ja, "body_ja", 5000), body_en=_text(body_en, "body_en", 5000),
            importance=importance, starts_at=starts, ends_at=ends_at, all_tenants=not chosen, created_by=actor[:100])
        notice.tenants.set(chosen)
        _audit("controls.notice.publish", actor=actor, user=user, target=notice, changes={
            "importance": [None, importance], "starts_at": [None, starts], "ends_at": [None, ends_at],
            "tenants": [None, [t.public_id for t in chosen] or "all"]})
        if notice.important:
            notice_mail(notice, chosen or None)
    return notice


def notice_mail(notice: Notice, tenants: list[Tenant] | None) -> int:
    """Queue the notice's mail (Japanese and English) to every addressed tenant's contact addresses."""
    from kaisen.notifications.services import outbox_add

    targets = tenants if tenants is not None else list(Tenant.objects.filter(is_active=True))
    with override("ja"):
        subject = f"【Kaisen】お知らせ: {notice.title_ja}"
    body = f"{notice.title_ja}\n\n{notice.body_ja}\n\n----\n{notice.title_en}\n\n{notice.body_en}\n"
    count = 0
    for tenant in targets:
        recipients = sorted({a for a in (tenant.contact_email, tenant.notification_email) if a})
        if not recipients:
            continue
        outbox_add(tenant=tenant, order=None, topic=f"{NOTICE_TOPIC}:{notice.pk}", to=recipients,
                   subject=subject, body=body, send_after=notice.starts_at if notice.starts_at > clock.now() else None)
        count += 1
    notice.mailed_at = clock.now()
    notice.save(update_fields=["mailed_at"])
    return count


def notice_withdraw(*, notice_id: int, actor: str = "", user: Any = None) -> Notice:
    """Stop showing a notice now."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None:
            raise NotFound(_("No such notice."))
        before, now = notice.ends_at, clock.now()
        notice.ends_at = now if notice.starts_at < now else notice.starts_at + dt.timedelta(seconds=1)
        notice.save(update_fields=["ends_at"])
        _audit("controls.notice.withdraw", actor=actor, user=user, target=notice,
               changes={"ends_at": [before, notice.ends_at]})
    return notice


def notices_visible(*, tenant: Tenant, user: Any = None, at: dt.datetime | None = None) -> QuerySet[Notice]:
    """The tenant's notices shown now, newest first; ``is_read`` for ``user``."""
    at = at or clock.now()
    qs = (Notice.objects.filter(starts_at__lte=at).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
          .filter(Q(all_tenants=True) | Q(tenants=tenant)).distinct())
    if user is not None and getattr(user, "pk", None):
        qs = qs.annotate(is_read=Exists(NoticeRead.objects.filter(notice=OuterRef("pk"), user=user)))
    return qs.order_by("-starts_at", "-id")


def notice_unread_count(*, tenant: Tenant, user: Any) -> int:
    return notices_visible(tenant=tenant).exclude(reads__user=user).count()


def notice_get(*, tenant: Tenant, user: Any, notice_id: int) -> Notice:
    notice = notices_visible(tenant=tenant, user=user).filter(pk=notice_id).first()
    if notice is None:
        raise NotFound(_("No such notice."))
    return notice


def notice_mark_read(*, tenant: Tenant, user: Any, notice_id: int) -> Notice:
    notice = notice_get(tenant=tenant, user=user, notice_id=notice_id)
    NoticeRead.objects.get_or_create(notice=notice, user=user, defaults={"read_at": clock.now()})
    notice.is_read = True  # type: ignore[attr-defined]
    return notice


# --- service switches ------------------------------------------------------------------------------------------

def switch_set(*, tenant: Tenant | str, function: str, enabled: bool, note: str = "", actor: str = "",
               user: Any = None) -> ServiceSwitch:
    """Switch a function on or off for one tenant."""
    if function not in fn.SWITCHES:
        raise DomainError(ErrorCode.UNKNOWN_FUNCTION, _("Unknown function: %(names)s.") % {"names": function},
                          field="function", details={"known": list(fn.SWITCHES)})
    target = _tenants([tenant])[0]
    with transaction.atomic():
        row, _created = ServiceSwitch.objects.select_for_update().get_or_create(tenant=target, function=function)
        before = row.enabled if not _created else True
        row.enabled, row.note, row.updated_by = bool(enabled), (note or "")[:200], actor[:100]
        row.save()
        _audit("controls.switch.set", actor=actor, user=user, target=row, tenant=target,
               changes={function: [before, row.enabled]})
        cache.bump()
    return row


def switch_enabled(tenant_id: int | None, function: str) -> bool:
    return tenant_id is None or (tenant_id, function) not in cache.get().switched_off


def switch_refusal(tenant_id: int | None, function: str) -> DomainError | None:
    """``NOT_IN_CONTRACT`` if ``function`` is switched off for the tenant."""
    if switch_enabled(tenant_id, function):
        return None
    return DomainError(ErrorCode.NOT_IN_CONTRACT, _("%(function)s is not available under your contract.") % {
        "function": fn.SWITCHES[function]}, details={"function": function})


def switches_for(tenant_id: int, *, customer: bool = False) -> list[dict[str, Any]]:
    """The tenant's switches; ``customer``: only those of functions that exist for customers (the public quote
    calculator is a stored value only, so customers are not told about it)."""
    return [{"function": code, "label": str(label), "enabled": switch_enabled(tenant_id, code)}
            for code, label in fn.SWITCHES.items() if not (customer and code in fn.SWITCHES_NOT_OFFERED)]


# --- operator-wide switches (the public quote calculator) -------------------------------------------------------

def _operator_switch_default(function: str) -> bool:
    from django.conf import settings

    return bool(getattr(settings, fn.OPERATOR_SWITCHES[function][1], True))


def operator_switch_enabled(function: str) -> bool:
    """An operator-wide switch now: the stored value, else the environment's default (a fresh install)."""
    stored = cache.get().operator_switches.get(function)
    return _operator_switch_default(function) if stored is None else stored


def operator_switch_set(*, function: str, enabled: bool, note: str = "", actor: str = "",
                        user: Any = None) -> OperatorSwitch:
    """Switch an operator-wide function on or off, in force in every process within seconds."""
    if function not in fn.OPERATOR_SWITCHES:
        raise DomainError(ErrorCode.UNKNOWN_FUNCTION, _("Unknown function: %(names)s.") % {"names": function},
                          field="function", details={"known": list(fn.OPERATOR_SWITCHES)})
    with transaction.atomic():
        before = operator_switch_enabled(function)
        row, _created = OperatorSwitch.objects.select_for_update().get_or_create(function=function)
        row.enabled, row.note, row.updated_by = bool(enabled), (note or "")[:200], actor[:100]
        row.save()
        _audit("controls.operator_switch.set", actor=actor, user=user, target=row,
               changes={function: [before, row.enabled]})
        cache.bump()
    return row


def operator_switches() -> list[dict[str, Any]]:
    return [{"function": code, "label": str(label), "enabled": operator_switch_enabled(code),
             "default": _operator_switch_default(code)} for code, (label, _setting) in fn.OPERATOR_SWITCHES.items()]
