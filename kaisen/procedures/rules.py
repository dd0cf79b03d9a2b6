"""The rules of each line procedure (M-MNP-2, M-PROC-1..6), one ``Rule`` per order kind.

A rule answers four questions and touches no database itself:

- ``line_refusal(line, today)`` — may this line have this procedure at all (status, carrier, SIM type)?
- ``decide(line, params, now)`` — validate and normalise the parameters and compute the dates: the
  effective date, when the order is due at the carrier (``due_at``), until when the customer may cancel
  it, warnings to show, and which mails the customer gets.
- ``on_accepted`` / ``on_withdrawn`` — what the line shows while the order waits (the scheduled end date).
- ``on_completed(order, line, result)`` — the change the carrier has made, applied to the line.

Dates are Japan time (``kaisen.core.clock`` / ``calendar``); the seed is the authority on every value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import jaconv
from django.utils.translation import gettext as _

from kaisen.carriers.models import Carrier
from kaisen.core import calendar, clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.numbers import iccid_normalize
from kaisen.lines.models import Line, LineStatus, Plan, PlanChangeRule, SimSize, SimType
from kaisen.procedures.models import Order, OrderKind

K = OrderKind

# Mail topics (OutboxMessage.topic): what the customer is told, per step (M-PROC-7).
ACCEPTED = "accepted"
COMPLETED = "completed"
CANCELLED = "cancelled"  # the customer withdrew the order
FAILED = "failed"
REMINDER = "reminder"  # the day before a SIM ships (M-PROC-4)
NUMBER_ISSUED = "number_issued"  # the MNP reservation number has arrived (M-PROC-5)
PORTED_OUT = "ported_out"  # the number has left for another operator (M-PROC-5)
DELAYED = "delayed"  # due during a maintenance window: carried out after it (issue 15 §1)

#: SoftBank carries out suspend/resume only from this time of day, Japan time (M-PROC-1).
SOFTBANK_SUSPEND_FROM = dt.time(10, 0)
#: How far ahead a SIM reissue may be shipped (M-PROC-4).
SHIP_DAYS_AHEAD = 7
#: How far ahead a cancellation may end (M-PROC-6).
CANCEL_YEARS_AHEAD = 2
#: A cancellation is carried out at this time on its end date; it can be withdrawn until just before.
CANCELLATION_RUNS_AT = dt.time(20, 0)
#: An MNP port-in activation asked for a future date is carried out at this time that day.
ACTIVATION_RUNS_AT = dt.time(9, 0)

INTERNATIONAL_CALL_CAPS = (0, 5000, 10000, 20000, 30000, 50000, 80000, 100000)
INTERNATIONAL_ROAMING_CAPS = (0, 50000)

# Voice options per carrier (M-PROC-2): name → kind of value. au is not in the seed; it follows docomo.
_BOOL, _PIN, _CALL_CAP, _ROAM_CAP = "bool", "pin", "call_cap", "roaming_cap"
VOICE_OPTIONS: dict[str, dict[str, str]] = {
    Carrier.DOCOMO: {
        "flat_rate_calling": _BOOL, "voicemail": _BOOL, "call_waiting": _BOOL, "call_forwarding": _BOOL,
        "international_call_cap": _CALL_CAP, "international_roaming_cap": _ROAM_CAP, "network_pin": _PIN,
    },
    Carrier.SOFTBANK: {
        "flat_rate_calling": _BOOL, "voicemail": _BOOL, "call_waiting": _BOOL, "group_calling": _BOOL,
        "number_block": _BOOL, "network_pin": _PIN,
    },
}
VOICE_OPTIONS[Carrier.AU] = VOICE_OPTIONS[Carrier.DOCOMO]

# SIM sizes the products offer for a reissue by shipment (M-PROC-4), per carrier and SIM type. A multi-size
# SIM is reissued as multi only. au is not in the seed; it follows docomo.
_ALL_SIZES = (SimSize.STANDARD, SimSize.MICRO, SimSize.NANO, SimSize.MULTI)
OFFERED_SIZES: dict[tuple[str, str], tuple[str, ...]] = {
    (Carrier.DOCOMO, SimType.DATA): _ALL_SIZES,
    (Carrier.DOCOMO, SimType.SMS): _ALL_SIZES,
    (Carrier.DOCOMO, SimType.VOICE): _ALL_SIZES,
    (Carrier.SOFTBANK, SimType.DATA): (SimSize.NANO, SimSize.MULTI),
    (Carrier.AU, SimType.DATA): _ALL_SIZES,
    (Carrier.AU, SimType.SMS): _ALL_SIZES,
    (Carrier.AU, SimType.VOICE): _ALL_SIZES,
}
SHIP, OTA = "ship", "ota"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９－ー―‐", "0123456789----")


# --- helpers --------------------------------------------------------------------------------------

def at_jst(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=clock.JST)


def end_of_day_jst(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.max, tzinfo=clock.JST)


def next_month_due(now: dt.datetime) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """(effective date, due_at, cancellable_until) of a change on the 1st of next month."""
    first = calendar.first_of_next_month(now.astimezone(clock.JST).date())
    return first, at_jst(first, dt.time(0)), end_of_day_jst(first - dt.timedelta(days=1))


def refuse(code: ErrorCode, message: str, field_name: str | None = None, **details: Any) -> DomainError:
    return DomainError(code, message, field=field_name, details=details or None)


def parse_date(value: Any, *, field_name: str, default: dt.date | None = None) -> dt.date:
    if value is None or value == "":
        if default is None:
            raise refuse(ErrorCode.INVALID_DATE, _("Choose a date."), field_name)
        return default
    if isinstance(value, dt.datetime):
        return value.astimezone(clock.JST).date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().translate(_FULLWIDTH_DIGITS).replace("/", "-")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise refuse(ErrorCode.INVALID_DATE, _("'%(value)s' is not a date (YYYY-MM-DD).") % {"value": value},
                     field_name) from exc


def parse_bool(value: Any, *, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise refuse(ErrorCode.INVALID_OPTION, _("'%(name)s' is on or off (true/false).") % {"name": field_name},
                 field_name)


def parse_int(value: Any, *, field_name: str, code: ErrorCode = ErrorCode.INVALID_OPTION) -> int:
    if isinstance(value, bool):
        raise refuse(code, _("'%(name)s' must be a whole number.") % {"name": field_name}, field_name)
    if isinstance(value, int):
        return value
    text = str(value).strip().translate(_FULLWIDTH_DIGITS).replace(",", "")
    if not re.fullmatch(r"\d{1,9}", text):
        raise refuse(code, _("'%(name)s' must be a whole number.") % {"name": field_name}, field_name)
    return int(text)


def _unknown_params(params: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(params) - allowed)
    if extra:
        raise refuse(ErrorCode.VALIDATION_ERROR,
                     _("Unknown parameter(s) for this procedure: %(names)s.") % {"names": ", ".join(extra)},
                     extra[0])


def _line_in_use_refusal(line: Line) -> DomainError | None:
    """Every procedure except the MNP port-in activation needs a line in use (active or suspended)."""
    if line.status == LineStatus.CANCELLED:
        return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("The line is cancelled."))
    if line.status == LineStatus.NOT_ACTIVATED:
        return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("The line is not activated yet."))
    return None


# --- the decision a rule makes ------------------------------------------------------------------

@dataclass
class Decision:
    params: dict[str, Any]
    effective_date: dt.date
    due_at: dt.datetime
    cancellable_until: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


class Rule:
    kind: str = ""
    #: The kinds that change the line's state exclude each other while pending (design note 0004).
    line_state = False
    params_allowed: set[str] = set()

    def line_refusal(self, line: Line, today: dt.date) -> DomainError | None:
        return _line_in_use_refusal(line)

    def check_line(self, line: Line, today: dt.date) -> None:
        refusal = self.line_refusal(line, today)
        if refusal is not None:
            raise refusal

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        raise NotImplementedError

    def emails(self, line: Line) -> list[str]:
        """The mail topics the customer gets for this procedure (a withdrawn order is always told)."""
        return [ACCEPTED, COMPLETED, CANCELLED]

    def completion_topic(self, order: Order) -> str:
        return COMPLETED

    def on_accepted(self, order: Order, line: Line) -> list[str]:
        return []

    def on_withdrawn(self, order: Order, line: Line) -> list[str]:
        return []

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def in_force_from(self, order: Order) -> dt.datetime:
        """When the completed order's change starts in the line's history (issue 10 §1): the moment it was
        scheduled for, not the moment the engine applied it (a change due at 00:00 JST on the 1st is in
        force from then, even if applied later)."""
        return order.due_at

    def carrier_params(self, order: Order) -> dict[str, Any]:
        return dict(order.params)


# --- M-MNP-2 ------------------------------------------------------------------------------------

class MnpActivationRule(Rule):
    kind = K.MNP_ACTIVATION
    line_state = True
    params_allowed = {"activation_date"}

    def line_refusal(self, line: Line, today: dt.date) -> DomainError | None:
        if line.carrier != Carrier.DOCOMO:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("MNP port-in activation is for docomo lines only."))
        if line.status != LineStatus.NOT_ACTIVATED or not line.mnp_port_in_pending:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("This line is not waiting for an MNP port-in activation."))
        if line.shipped_on is None or line.shipped_on > today:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE,
                          _("The SIM has not shipped yet; activation can be requested once it has shipped."))
        if line.mnp_port_in_expires_on is not None and line.mnp_port_in_expires_on < today:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE,
                          _("The MNP reservation number expired on %(date)s; the SIM is void.")
                          % {"date": line.mnp_port_in_expires_on.isoformat()})
        if not line.msisdn:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("The line has no phone number to port in."))
        return None

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        _unknown_params(params, self.params_allowed)
        today = now.astimezone(clock.JST).date()
        day = parse_date(params.get("activation_date"), field_name="activation_date", default=today)
        last = line.mnp_port_in_expires_on or today
        if day < today or day > last:
            raise refuse(ErrorCode.INVALID_DATE,
                         _("Choose an activation date from %(first)s to %(last)s (the reservation number's expiry).")
                         % {"first": today.isoformat(), "last": last.isoformat()}, "activation_date")
        if day == today:
            due, until = now, None
        else:
            due, until = at_jst(day, ACTIVATION_RUNS_AT), end_of_day_jst(day - dt.timedelta(days=1))
        warning = _("If the line is not activated by %(date)s (the reservation number's expiry), it is not "
                    "activated automatically: the SIM becomes void.") % {"date": last.isoformat()}
        return Decision(params={"activation_date": day.isoformat()}, effective_date=day, due_at=due,
                        cancellable_until=until, warnings=[warning], emails=self.emails(line))

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        line.status = LineStatus.ACTIVE
        line.started_on = dt.date.fromisoformat(order.params["activation_date"])
        line.mnp_port_in_pending = False
        line.msisdn_is_temporary = False
        return ["status", "started_on", "mnp_port_in_pending", "msisdn_is_temporary"]


# --- M-PROC-1 -----------------------------------------------------------------------------------

class SuspendRule(Rule):
    kind = K.SUSPEND
    line_state = True
    params_allowed: set[str] = set()
    from_status = LineStatus.ACTIVE
    to_status = LineStatus.SUSPENDED

    def line_refusal(self, line: Line, today: dt.date) -> DomainError | None:
        refusal = _line_in_use_refusal(line)
        if refusal is not None:
            return refusal
        if line.status != self.from_status:
            if self.from_status == LineStatus.ACTIVE:
                return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("Only an active line can be suspended."))
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("Only a suspended line can be resumed."))
        return None

    def emails(self, line: Line) -> list[str]:
        # Data-only lines: one mail when done; voice/SMS lines take longer and are told twice.
        return [COMPLETED] if line.sim_type == SimType.DATA else [ACCEPTED, COMPLETED]

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        _unknown_params(params, self.params_allowed)
        local = now.astimezone(clock.JST)
        due = now
        if line.carrier == Carrier.SOFTBANK and local.time() < SOFTBANK_SUSPEND_FROM:
            due = at_jst(local.date(), SOFTBANK_SUSPEND_FROM)
        warnings = [_("Basic and option charges continue while the line is suspended.")]
        return Decision(params={}, effective_date=local.date(), due_at=due, warnings=warnings,
                        emails=self.emails(line))

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        line.status = self.to_status
        return ["status"]


class ResumeRule(SuspendRule):
    kind = K.RESUME
    from_status = LineStatus.SUSPENDED
    to_status = LineStatus.ACTIVE

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        decision = super().decide(line, params, now)
        decision.warnings = []
        return decision


# --- M-PROC-2 -----------------------------------------------------------------------------------

class VoiceOptionsRule(Rule):
    kind = K.VOICE_OPTIONS
    params_allowed = {"effective", "options"}

    def line_refusal(self, line: Line, today: dt.date) -> DomainError | None:
        refusal = _line_in_use_refusal(line)
        if refusal is not None:
            return refusal
        if line.sim_type != SimType.VOICE:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("Voice options exist only on voice lines."))
        if line.status != LineStatus.ACTIVE:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("Voice options can be changed on an active line only."))
        return None

    def _value(self, name: str, kind: str, raw: Any) -> Any:
        if kind == _BOOL:
            return parse_bool(raw, field_name=name)
        if kind == _PIN:
            pin = str(raw).strip().translate(_FULLWIDTH_DIGITS)
            if not re.fullmatch(r"\d{4}", pin):
                raise refuse(ErrorCode.INVALID_OPTION, _("The network PIN is 4 digits."), name)
            return pin
        allowed = INTERNATIONAL_CALL_CAPS if kind == _CALL_CAP else INTERNATIONAL_ROAMING_CAPS
        value = parse_int(raw, field_name=name)
        if value not in allowed:
            raise refuse(ErrorCode.INVALID_OPTION,
                         _("'%(name)s' must be one of %(values)s yen.")
                         % {"name": name, "values": ", ".join(f"{v:,}" for v in allowed)}, name)
        return value

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        _unknown_params(params, self.params_allowed)
        spec = VOICE_OPTIONS.get(line.carrier, VOICE_OPTIONS[Carrier.DOCOMO])
        raw = params.get("options") or {}
        if not isinstance(raw, dict):
            raise refuse(ErrorCode.INVALID_OPTION, _("Give the options to change."), "options")
        current = line.voice_options or {}
        options: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in spec:
                raise refuse(ErrorCode.INVALID_OPTION,
                             _("'%(name)s' is not a voice option of this carrier.") % {"name": name}, name)
            options[name] = self._value(name, spec[name], value)
        changes = {k: v for k, v in options.items() if current.get(k) != v}
        if not changes:
            raise refuse(ErrorCode.INVALID_OPTION, _("Nothing would change: choose at least one new value."),
                         "options")
        # Seed 000, 通話定額 → 通話定額オプション変更の適用日: while the line subscribes to flat-rate calling,
        # a change of that option (removal included) applies from the 1st of next month only. The rule sits
        # under the flat-rate option's own entry: a change that leaves it untouched may apply today.
        next_month_only = bool(current.get("flat_rate_calling")) and "flat_rate_calling" in changes
        effective = str(params.get("effective") or ("next_month" if next_month_only else "today")).strip()
        if effective not in ("today", "next_month"):
            raise refuse(ErrorCode.INVALID_OPTION, _("The change applies 'today' or 'next_month'."), "effective")
        if next_month_only and effective == "today":
            raise refuse(ErrorCode.INVALID_OPTION,
                         _("The line subscribes to flat-rate calling: changing or removing flat-rate calling "
                           "applies from the 1st of next month only."), "effective")
        if effective == "today":
            local = now.astimezone(clock.JST)
            eff, due, until = local.date(), now, None
        else:
            eff, due, until = next_month_due(now)
        return Decision(params={"effective": effective, "options": changes}, effective_date=eff, due_at=due,
                        cancellable_until=until, emails=self.emails(line))

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        line.voice_options = {**(line.voice_options or {}), **order.params.get("options", {})}
        return ["voice_options"]


# --- M-PROC-3 -----------------------------------------------------------------------------------

def _volume(mb: int | None) -> float:
    """A data allowance or cap for comparison: None (unlimited / no cap) is the largest."""
    return float("inf") if mb is None else float(mb)


class PlanRule(Rule):
    kind = K.PLAN_CHANGE
    params_allowed = {"plan_code", "data_cap_mb"}

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        _unknown_params(params, self.params_allowed)
        current: Plan = line.plan
        code = str(params.get("plan_code") or "").strip() or current.code
        if code == current.code:
            plan = current
        else:
            found = Plan.objects.filter(code=code, is_active=True).first()
            if found is None:
                raise refuse(ErrorCode.INVALID_PLAN, _("There is no plan '%(code)s'.") % {"code": code}, "plan_code")
            plan = found
        if plan.carrier != line.carrier:
            raise refuse(ErrorCode.INVALID_PLAN, _("Plan '%(code)s' is not a plan of this line's carrier.")
                         % {"code": code}, "plan_code")
        tenant = line.tenant
        if plan.coverage not in tenant.coverages:
            raise refuse(ErrorCode.INVALID_PLAN, _("Your contract does not include plan '%(code)s'.")
                         % {"code": code}, "plan_code")
        # The data cap: given → that value (null → no cap); not given → kept if the plan allows a cap.
        if "data_cap_mb" in params and params["data_cap_mb"] not in (None, ""):
            if not plan.has_data_cap:
                raise refuse(ErrorCode.INVALID_OPTION, _("Plan '%(code)s' has no selectable data cap.")
                             % {"code": plan.code}, "data_cap_mb")
            cap: int | None = parse_int(params["data_cap_mb"], field_name="data_cap_mb")
            if not cap or (plan.data_allowance_mb is not None and cap > plan.data_allowance_mb):
                raise refuse(ErrorCode.INVALID_OPTION,
                             _("The data cap is from 1 MB up to the plan's allowance."), "data_cap_mb")
        elif "data_cap_mb" in params:
            cap = None
        else:
            cap = line.data_cap_mb if plan.has_data_cap else None
        if plan.pk == current.pk and cap == line.data_cap_mb:
            raise refuse(ErrorCode.INVALID_PLAN, _("Nothing would change: choose another plan or data cap."),
                         "plan_code")
        if plan.pk != current.pk:
            larger = _volume(plan.data_allowance_mb) > _volume(current.data_allowance_mb)
        else:
            larger = _volume(cap) > _volume(line.data_cap_mb)
        now_allowed = current.change_rule == PlanChangeRule.UP_NOW_DOWN_NEXT_MONTH and larger
        if now_allowed:
            eff, due, until = now.astimezone(clock.JST).date(), now, None
        else:
            eff, due, until = next_month_due(now)
        return Decision(params={"plan_code": plan.code, "data_cap_mb": cap,
                                "timing": "now" if now_allowed else "next_month"},
                        effective_date=eff, due_at=due, cancellable_until=until,
                        emails=self.emails(line))

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        plan = Plan.objects.get(code=order.params["plan_code"])
        line.plan = plan
        line.data_cap_mb = order.params.get("data_cap_mb")
        return ["plan", "data_cap_mb"]



# --- M-PROC-4 -----------------------------------------------------------------------------------

def sim_reissue_methods(line: Line) -> dict[str, bool]:
    """Which reissue methods the seed's table gives this line: ship (offered) or OTA (not offered yet)."""
    if line.carrier == Carrier.SOFTBANK:
        return {SHIP: line.sim_type == SimType.DATA, OTA: line.sim_type != SimType.DATA}
    return {SHIP: True, OTA: line.sim_type != SimType.DATA}


def offered_sizes(line: Line) -> tuple[str, ...]:
    if line.sim_size == SimSize.MULTI:
        return (SimSize.MULTI,)
    return OFFERED_SIZES.get((line.carrier, line.sim_type), ())


def _postal_code(raw: Any) -> str:
    text = str(raw or "").strip().translate(_FULLWIDTH_DIGITS).replace("〒", "").strip()
    m = re.fullmatch(r"(\d{3})-?(\d{4})", text)
    if not m:
        raise refuse(ErrorCode.VALIDATION_ERROR, _("A postal code is 3 digits, a hyphen and 4 digits (123-4567)."),
                     "delivery_address.postal_code")
    return f"{m.group(1)}-{m.group(2)}"


class SimReissueRule(Rule):
    kind = K.SIM_REISSUE
    params_allowed = {"method", "sim_size", "ship_date", "delivery_address"}

    def line_refusal(self, line: Line, today: dt.date) -> DomainError | None:
        refusal = _line_in_use_refusal(line)
        if refusal is not None:
            return refusal
        if not sim_reissue_methods(line)[SHIP]:
            return refuse(ErrorCode.METHOD_NOT_OFFERED,
                          _("OTA reissue is not offered yet; this line can be reissued by OTA only."))
        return None

    def emails(self, line: Line) -> list[str]:
        return [ACCEPTED, REMINDER, CANCELLED]

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        _unknown_params(params, self.params_allowed)
        method = str(params.get("method") or SHIP).strip().lower()
        if method == OTA:
            raise refuse(ErrorCode.METHOD_NOT_OFFERED, _("OTA reissue is not offered yet."), "method")
        if method != SHIP:
            raise refuse(ErrorCode.METHOD_NOT_OFFERED, _("Choose 'ship' (a new SIM is shipped)."), "method")
        size = str(params.get("sim_size") or "").strip().lower()
        sizes = offered_sizes(line)
        if size not in SimSize.values or size not in sizes:
            if line.sim_size == SimSize.MULTI:
                message = _("A multi-size SIM can only be reissued as a multi-size SIM.")
            else:
                message = _("The product does not offer the size '%(size)s'; choose one of: %(sizes)s.") % {
                    "size": size, "sizes": ", ".join(sizes)}
            raise refuse(ErrorCode.SIZE_NOT_OFFERED, message, "sim_size")
        today = now.astimezone(clock.JST).date()
        ship = parse_date(params.get("ship_date"), field_name="ship_date", default=today)
        last = today + dt.timedelta(days=SHIP_DAYS_AHEAD)
        if ship < today or ship > last:
            raise refuse(ErrorCode.INVALID_DATE, _("Choose a ship date from %(first)s to %(last)s.")
                         % {"first": today.isoformat(), "last": last.isoformat()}, "ship_date")
        out: dict[str, Any] = {"method": SHIP, "sim_size": size, "ship_date": ship.isoformat()}
        address = params.get("delivery_address")
        if address:
            if not isinstance(address, dict):
                raise refuse(ErrorCode.VALIDATION_ERROR, _("The delivery address is postal code, address and "
                                                           "recipient."), "delivery_address")
            _unknown_params(address, {"postal_code", "address", "recipient"})
            street = str(address.get("address") or "").strip()
            recipient = str(address.get("recipient") or "").strip()
            if not street or len(street) > 200:
                raise refuse(ErrorCode.VALIDATION_ERROR, _("Give the delivery address (up to 200 characters)."),
                             "delivery_address.address")
            if not recipient or len(recipient) > 100:
                raise refuse(ErrorCode.VALIDATION_ERROR, _("Give the recipient (up to 100 characters)."),
                             "delivery_address.recipient")
            out["delivery_address"] = {"postal_code": _postal_code(address.get("postal_code")),
                                       "address": street, "recipient": recipient}
        if ship == today:
            due, until = now, None
        else:
            due, until = at_jst(ship, dt.time(0)), end_of_day_jst(ship - dt.timedelta(days=1))
        warning = _("The line switches to the new SIM on the ship date (%(date)s); the current SIM stops "
                    "working then.") % {"date": ship.isoformat()}
        return Decision(params=out, effective_date=ship, due_at=due, cancellable_until=until,
                        warnings=[warning], emails=self.emails(line))

    def reminder_at(self, order: Order) -> dt.datetime:
        ship = dt.date.fromisoformat(order.params["ship_date"])
        return at_jst(ship - dt.timedelta(days=1), dt.time(9, 0))

    def completion_topic(self, order: Order) -> str:
        return ""  # the seed mails at acceptance and the day before shipment only

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        fields = ["sim_size"]
        line.sim_size = order.params["sim_size"]
        new_iccid = result.get("new_iccid")
        if new_iccid:
            line.iccid = iccid_normalize(str(new_iccid))
            fields.append("iccid")
        return fields


# --- M-PROC-5 -----------------------------------------------------------------------------------

_HALF_WIDTH = re.compile(r"[\x00-\x7e\uff61-\uff9f]")
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc\u30fb\u3000]+")


def holder_name_normalize(raw: Any) -> str:
    name = str(raw or "").strip().strip("\u3000")
    if not name:
        raise refuse(ErrorCode.INVALID_NAME, _("Give the contract holder's name."), "holder_name")
    if len(name) > 100:
        raise refuse(ErrorCode.INVALID_NAME, _("The name is at most 100 characters."), "holder_name")
    if _HALF_WIDTH.search(name):
        raise refuse(ErrorCode.INVALID_NAME,
                     _("Type the contract holder's name in full-width characters (including letters and spaces)."),
                     "holder_name")
    return name


def holder_kana_normalize(raw: Any) -> str:
    """Full-width katakana; half-width katakana (and spaces) are converted, anything else refused."""
    text = str(raw or "").strip()
    text = jaconv.h2z(text, kana=True, ascii=False, digit=False).replace(" ", "\u3000").strip("\u3000")
    if not text:
        raise refuse(ErrorCode.INVALID_NAME, _("Give the contract holder's name in katakana."), "holder_name_kana")
    if len(text) > 100:
        raise refuse(ErrorCode.INVALID_NAME, _("The name is at most 100 characters."), "holder_name_kana")
    if not _KATAKANA.fullmatch(text):
        raise refuse(ErrorCode.INVALID_NAME,
                     _("Type the name in full-width katakana only (no hiragana, kanji or letters)."),
                     "holder_name_kana")
    return text


class MnpReservationRule(Rule):
    kind = K.MNP_RESERVATION
    line_state = True
    params_allowed = {"holder_name", "holder_name_kana", "category"}

    def line_refusal(self, line: Line, today: dt.date) -> DomainError | None:
        refusal = _line_in_use_refusal(line)
        if refusal is not None:
            return refusal
        if line.sim_type != SimType.VOICE or not line.msisdn:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE, _("Only a voice line's number can be ported out."))
        expires = line.mnp_reservation_expires_on
        if line.mnp_reservation_number and expires is not None and expires >= today:
            return refuse(ErrorCode.LINE_NOT_ELIGIBLE,
                          _("A reservation number is already issued (valid until %(date)s).")
                          % {"date": expires.isoformat()})
        return None

    def emails(self, line: Line) -> list[str]:
        return [ACCEPTED, NUMBER_ISSUED, PORTED_OUT]

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        _unknown_params(params, self.params_allowed)
        category = str(params.get("category") or "corporate").strip()
        if category != "corporate":
            raise refuse(ErrorCode.VALIDATION_ERROR, _("The category must be 'corporate'."), "category")
        name = holder_name_normalize(params.get("holder_name"))
        kana = holder_kana_normalize(params.get("holder_name_kana"))
        warnings = [_("The reservation number arrives by email and on the line's status page within 4 business "
                      "days. The holder name must match the contract at the new operator.")]
        return Decision(params={"holder_name": name, "holder_name_kana": kana, "category": category},
                        effective_date=now.astimezone(clock.JST).date(), due_at=now, warnings=warnings,
                        emails=self.emails(line))

    def completion_topic(self, order: Order) -> str:
        return NUMBER_ISSUED

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        number = str(result.get("reservation_number") or "")
        if re.fullmatch(r"\d{10}", number):
            line.mnp_reservation_number = number
        expires = result.get("expires_on")
        if expires:
            line.mnp_reservation_expires_on = parse_date(expires, field_name="expires_on")
        return ["mnp_reservation_number", "mnp_reservation_expires_on"]

    def on_ported_out(self, order: Order, line: Line, today: dt.date) -> list[str]:
        line.status = LineStatus.CANCELLED
        line.scheduled_end_on = line.scheduled_end_on or today
        return ["status", "scheduled_end_on"]


# --- M-PROC-6 -----------------------------------------------------------------------------------

class CancellationRule(Rule):
    kind = K.CANCELLATION
    line_state = True
    params_allowed = {"end_date"}

    def emails(self, line: Line) -> list[str]:
        return [ACCEPTED, COMPLETED, CANCELLED]

    def decide(self, line: Line, params: dict[str, Any], now: dt.datetime) -> Decision:
        _unknown_params(params, self.params_allowed)
        today = now.astimezone(clock.JST).date()
        end = parse_date(params.get("end_date"), field_name="end_date", default=calendar.last_day_of_month(today))
        last = calendar.add_years(today, CANCEL_YEARS_AHEAD)
        if end < today or end > last:
            raise refuse(ErrorCode.INVALID_DATE, _("Choose an end date from %(first)s to %(last)s.")
                         % {"first": today.isoformat(), "last": last.isoformat()}, "end_date")
        warnings = []
        if line.sim_type != SimType.DATA:
            warnings.append(_("Voice calls and SMS may keep working for a few days after the end date; calls made "
                              "after the end date are charged."))
        due = at_jst(end, CANCELLATION_RUNS_AT)
        until = due - dt.timedelta(microseconds=1)
        return Decision(params={"end_date": end.isoformat()}, effective_date=end, due_at=due,
                        cancellable_until=until, warnings=warnings, emails=self.emails(line))

    def on_accepted(self, order: Order, line: Line) -> list[str]:
        line.scheduled_end_on = dt.date.fromisoformat(order.params["end_date"])
        return ["scheduled_end_on"]

    def on_withdrawn(self, order: Order, line: Line) -> list[str]:
        line.scheduled_end_on = None
        return ["scheduled_end_on"]

    def on_completed(self, order: Order, line: Line, result: dict[str, Any]) -> list[str]:
        line.status = LineStatus.CANCELLED
        line.scheduled_end_on = dt.date.fromisoformat(order.params["end_date"])
        return ["status", "scheduled_end_on"]

    def in_force_from(self, order: Order) -> dt.datetime:
        # The line is in service through its end date: cancelled from 00:00 JST the day after.
        return at_jst(dt.date.fromisoformat(order.params["end_date"]) + dt.timedelta(days=1), dt.time(0))


RULES: dict[str, Rule] = {
    rule.kind: rule
    for rule in (MnpActivationRule(), SuspendRule(), ResumeRule(), VoiceOptionsRule(), PlanRule(),
                 SimReissueRule(), MnpReservationRule(), CancellationRule())
}
LINE_STATE_KINDS = frozenset(kind for kind, rule in RULES.items() if rule.line_state)


def rule_for(kind: str) -> Rule:
    try:
        return RULES[kind]
    except KeyError:
        raise refuse(ErrorCode.VALIDATION_ERROR, _("Unknown procedure '%(kind)s'.") % {"kind": kind},
                     "kind") from None
