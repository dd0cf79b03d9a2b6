"""How orders and their parameters are shown to people (the web pages only; the rules live in services)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kaisen.core import clock
from kaisen.lines.models import Line, LineStatus, Plan, SimSize
from kaisen.procedures.forms import VOICE_LABELS, VOICE_SWITCHES, _mb_label, _yen_label
from kaisen.procedures.models import Order, OrderKind, OrderStatus


@dataclass(frozen=True)
class KindText:
    """The words of one procedure's pages (seed: the screen names and button labels)."""

    title: Promise  # the input page's heading
    lead: Promise  # one line under it
    submit: Promise  # the confirm page's submit button (申し込む / 開通する / 変更する)
    complete: Promise  # the complete page's heading
    cancel: Promise  # the pending panel's cancel button (…取消)


KIND_TEXT: dict[str, KindText] = {
    OrderKind.MNP_ACTIVATION: KindText(
        gettext_lazy("MNP port-in activation request"),
        gettext_lazy("Choose the activation date of this half-black SIM (from today up to the reservation expiry)."),
        pgettext_lazy("procedure submit", "Activate"), gettext_lazy("MNP port-in activation request complete"),
        gettext_lazy("Cancel the activation request")),
    OrderKind.SUSPEND: KindText(
        gettext_lazy("Suspend the line"),
        gettext_lazy("The line is suspended temporarily. Basic and option fees continue to be charged while "
                     "it is suspended."),
        pgettext_lazy("procedure submit", "Apply"), gettext_lazy("Application complete"),
        gettext_lazy("Cancel the suspension")),
    OrderKind.RESUME: KindText(
        gettext_lazy("Resume the line"), gettext_lazy("The suspended line is put back into use."),
        pgettext_lazy("procedure submit", "Apply"), gettext_lazy("Application complete"),
        gettext_lazy("Cancel the resumption")),
    OrderKind.VOICE_OPTIONS: KindText(
        gettext_lazy("Voice options"),
        gettext_lazy("Choose the options and when the change applies: today (immediately) or the 1st of next month."),
        pgettext_lazy("procedure submit", "Change"), gettext_lazy("Change procedure complete"),
        gettext_lazy("Cancel the voice option change")),
    OrderKind.PLAN_CHANGE: KindText(
        gettext_lazy("Plan change (data cap)"),
        gettext_lazy("Choose the plan and, on plans that have one, the data cap. Depending on the plan a larger "
                     "volume applies immediately and a smaller one from the 1st of next month, or every change "
                     "applies from the 1st of next month."),
        pgettext_lazy("procedure submit", "Apply"), gettext_lazy("Application complete"),
        gettext_lazy("Cancel the plan change")),
    OrderKind.SIM_REISSUE: KindText(
        gettext_lazy("SIM size change / reissue"),
        gettext_lazy("A new SIM card is made and shipped. Only the sizes offered for this line can be chosen."),
        pgettext_lazy("procedure submit", "Apply"), gettext_lazy("Application complete"),
        gettext_lazy("Cancel the SIM reissue")),
    OrderKind.MNP_RESERVATION: KindText(
        gettext_lazy("MNP reservation number"),
        gettext_lazy("Request the MNP reservation number needed to move this number to another carrier."),
        pgettext_lazy("procedure submit", "Apply"), gettext_lazy("Application complete"),
        gettext_lazy("Cancel the reservation number request")),
    OrderKind.CANCELLATION: KindText(
        gettext_lazy("Cancellation"),
        gettext_lazy("Choose the end date of the line on the calendar (by default the last day of this month)."),
        pgettext_lazy("procedure submit", "Apply"), gettext_lazy("Cancellation application complete"),
        gettext_lazy("Withdraw the cancellation")),
}

#: The order of the procedure buttons on the status page (seed: the side menu's order).
KIND_ORDER = [OrderKind.MNP_ACTIVATION, OrderKind.SUSPEND, OrderKind.RESUME, OrderKind.VOICE_OPTIONS,
              OrderKind.PLAN_CHANGE, OrderKind.SIM_REISSUE, OrderKind.MNP_RESERVATION, OrderKind.CANCELLATION]
KIND_ICONS: dict[str, str] = {
    OrderKind.MNP_ACTIVATION: "box-arrow-in-right", OrderKind.SUSPEND: "pause-circle",
    OrderKind.RESUME: "play-circle", OrderKind.VOICE_OPTIONS: "telephone", OrderKind.PLAN_CHANGE: "reception-4",
    OrderKind.SIM_REISSUE: "sim", OrderKind.MNP_RESERVATION: "box-arrow-right", OrderKind.CANCELLATION: "x-circle",
}

STATUS_CLASSES: dict[str, str] = {
    OrderStatus.RECEIVED: "text-bg-info",
    OrderStatus.SCHEDULED: "text-bg-primary",
    OrderStatus.SENT: "text-bg-warning",
    OrderStatus.UNKNOWN: "text-bg-warning",
    OrderStatus.COMPLETED: "text-bg-success",
    OrderStatus.FAILED: "text-bg-danger",
    OrderStatus.CANCELLED: "text-bg-secondary",
}

SIZE_LABELS = dict(SimSize.choices)
EFFECTIVE_LABELS = {"today": pgettext_lazy("effective", "Today (immediately)"),
                    "next_month": pgettext_lazy("effective", "The 1st of next month")}
METHOD_LABELS = {"ship": gettext_lazy("Ship a ready-to-use SIM (black SIM)"), "ota": gettext_lazy("OTA rewrite")}
CATEGORY_LABELS = {"corporate": gettext_lazy("Corporate")}
TIMING_LABELS = {"now": gettext_lazy("Immediately"), "next_month": gettext_lazy("From the 1st of next month")}


@dataclass
class Row:
    label: str
    value: str
    before: str | None = None  # the line's current value, when it changes

    @property
    def changed(self) -> bool:
        return self.before is not None and self.before != self.value


def _date(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value or "—")


def voice_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return _("Subscribed") if value else _("Not subscribed")
    if name.endswith("_cap"):
        try:
            amount = int(value)
        except (TypeError, ValueError):
            return str(value)
        return _yen_label(amount) if amount else _("Not available (cap 0 yen)")
    if name == "network_pin":
        return "••••" if value else _("Not set")
    return "—" if value is None else str(value)


def _plan_label(code: str) -> str:
    plan = Plan.objects.filter(code=code).first() if code else None
    return f"{plan.code} — {plan.name}" if plan else (code or "—")


def param_rows(kind: str, params: dict[str, Any], line: Line | None = None, *, show_pin: bool = False) -> list[Row]:
    """The parameters of an order as label/value rows; with ``line``, each row also has the current value."""
    rows: list[Row] = []
    if kind == OrderKind.MNP_ACTIVATION:
        rows.append(Row(_("Activation date"), _date(params.get("activation_date"))))
    elif kind in (OrderKind.SUSPEND, OrderKind.RESUME):
        to = LineStatus.SUSPENDED if kind == OrderKind.SUSPEND else LineStatus.ACTIVE
        before = str(LineStatus(line.status).label) if line is not None and line.status in LineStatus.values else None
        # Without the line this is the order's target, not the line's present state (issue 14: the complete
        # page said 中断中 while the order was still 予約済).
        label = _("Line status") if line is not None else _("Line status once carried out")
        rows.append(Row(label, str(LineStatus(to).label), before))
    elif kind == OrderKind.VOICE_OPTIONS:
        rows.append(Row(_("Effective"), str(EFFECTIVE_LABELS.get(params.get("effective", ""),
                                                                 params.get("effective", "—")))))
        options = params.get("options") or {}
        current = (line.voice_options or {}) if line is not None else {}
        carrier = line.carrier if line is not None else ""
        order = [*VOICE_SWITCHES.get(carrier, ()), "international_call_cap", "international_roaming_cap"]
        names = [n for n in order if n in options] + sorted(n for n in options if n not in order and n != "network_pin")
        for name in names:
            value = voice_value(name, options[name])
            before = voice_value(name, current.get(name, False if name in VOICE_SWITCHES.get(carrier, ()) else 0)) \
                if line is not None else None
            rows.append(Row(str(VOICE_LABELS.get(name, name)), value, before))
        if options.get("network_pin"):
            pin = str(options["network_pin"]) if show_pin else "••••"
            rows.append(Row(str(VOICE_LABELS["network_pin"]), _("Change to %(pin)s") % {"pin": pin}))
    elif kind == OrderKind.PLAN_CHANGE:
        rows.append(Row(_("Plan"), _plan_label(params.get("plan_code", "")),
                        _plan_label(line.plan.code) if line is not None else None))
        cap = params.get("data_cap_mb")
        before_cap = None
        if line is not None:
            before_cap = _mb_label(line.data_cap_mb) if line.data_cap_mb else _("No cap")
        rows.append(Row(_("Data cap"), _mb_label(int(cap)) if cap else _("No cap"), before_cap))
        if params.get("timing"):
            rows.append(Row(_("Applies"), str(TIMING_LABELS.get(params["timing"], params["timing"]))))
    elif kind == OrderKind.SIM_REISSUE:
        rows.append(Row(_("Reissue method"), str(METHOD_LABELS.get(params.get("method", ""), params.get("method")))))
        size = params.get("sim_size", "")
        rows.append(Row(_("SIM size"), str(SIZE_LABELS.get(size, size)),
                        str(SIZE_LABELS.get(line.sim_size, line.sim_size)) if line is not None else None))
        rows.append(Row(_("Ship date (SIM switch date)"), _date(params.get("ship_date"))))
        address = params.get("delivery_address")
        if isinstance(address, dict):
            shown = "\n".join(str(address.get(k) or "") for k in ("postal_code", "address", "recipient")).strip()
        else:
            shown = str(address or "")
        rows.append(Row(_("Delivery address"), shown or _("The registered address")))
    elif kind == OrderKind.MNP_RESERVATION:
        rows.append(Row(_("Contract holder name"), params.get("holder_name", "—")))
        rows.append(Row(_("Contract holder name (katakana)"), params.get("holder_name_kana", "—")))
        rows.append(Row(_("Category"), str(CATEGORY_LABELS.get(params.get("category", ""),
                                                             params.get("category", "—")))))
        rows.append(Row(_("Date of birth"), _("Not needed for a corporate holder")))
    elif kind == OrderKind.CANCELLATION:
        rows.append(Row(_("End date"), _date(params.get("end_date"))))
    else:  # a kind this page does not know: show the raw parameters rather than nothing
        rows.extend(Row(str(k), str(v)) for k, v in params.items())
    return rows


def order_can_cancel(order: Order, now: dt.datetime | None = None) -> bool:
    """Whether the pending panel offers a cancel button (the service decides for real)."""
    deadline = order.withdrawal_deadline
    if order.status not in (OrderStatus.RECEIVED, OrderStatus.SCHEDULED) or deadline is None:
        return False
    return (now or clock.now()) <= deadline


def result_rows(order: Order) -> list[Row]:
    """What the carrier gave back and the customer needs: the MNP reservation number, the new ICCID …"""
    labels = {"reservation_number": _("MNP reservation number"), "expires_on": _("MNP reservation expiry"),
              "new_iccid": _("New SIM serial number")}
    return [Row(label, str(order.result[key])) for key, label in labels.items() if order.result.get(key)]


MAIL_LABELS = {
    "accepted": gettext_lazy("When the application is accepted"),
    "completed": gettext_lazy("When the change is done"),
    "cancelled": gettext_lazy("If you cancel the application"),
    "failed": gettext_lazy("If the carrier refuses it"),
    "reminder": gettext_lazy("The day before the SIM ships"),
    "number_issued": gettext_lazy("When the MNP reservation number is issued"),
    "ported_out": gettext_lazy("When the number has moved to the new carrier"),
}


def mail_labels(topics: list[str]) -> list[str]:
    return [str(MAIL_LABELS.get(t, t)) for t in topics]


#: The notes the services and the engine write on order events, in people's words.
EVENT_NOTES = {
    "accepted": gettext_lazy("Accepted"),
    "withdrawn by customer": gettext_lazy("Withdrawn by the customer"),
    "carried out": gettext_lazy("Carried out by the carrier"),
    "carrier has it": gettext_lazy("The carrier confirmed it has the request"),
    "carrier never received it": gettext_lazy("The carrier never received it; it will be sent again"),
}


def event_note(note: str) -> str:
    return str(EVENT_NOTES[note]) if note in EVENT_NOTES else note
