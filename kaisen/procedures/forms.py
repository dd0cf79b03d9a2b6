"""The input forms of the line procedures (M-MNP-2, M-PROC-1..6) and of the bulk upload (X-BULK).

A form only shapes what the user types into the ``params`` of ``order_preview`` / ``order_submit``: the
rules themselves (dates, option values, sizes, plans, reception hours, conflicts) are checked by the
service, whose ``DomainError`` the page shows. The limits given to the browser (``min``/``max`` of a date,
the choices of a select) mirror the rules so that the usual mistakes cannot be made in the first place.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

import jaconv
from django import forms
from django.utils.translation import gettext_lazy as _

from kaisen.carriers.models import Carrier
from kaisen.core import calendar, clock
from kaisen.lines.models import Line, Plan, SimSize
from kaisen.procedures.models import OrderKind
from kaisen.procedures.prices import plan_price_label
from kaisen.procedures.rules import (
    CANCEL_YEARS_AHEAD,
    INTERNATIONAL_CALL_CAPS,
    INTERNATIONAL_ROAMING_CAPS,
    OTA,
    SHIP,
    SHIP_DAYS_AHEAD,
    VOICE_OPTIONS,
    offered_sizes,
    sim_reissue_methods,
)

#: The on/off voice options of each carrier, in the seed's order (the values: ``rules.VOICE_OPTIONS``).
VOICE_SWITCHES: dict[str, tuple[str, ...]] = {
    carrier: tuple(name for name, kind in spec.items() if kind == "bool") for carrier, spec in VOICE_OPTIONS.items()
}
VOICE_LABELS: dict[str, Any] = {
    "flat_rate_calling": _("Flat-rate calling"),
    "voicemail": _("Voicemail"),
    "call_waiting": _("Call waiting"),
    "call_forwarding": _("Call forwarding"),
    "group_calling": _("Group calling"),
    "number_block": _("Number block"),
    "international_call_cap": _("International calling (spend cap)"),
    "international_roaming_cap": _("International roaming (spend cap)"),
    "network_pin": _("Network PIN"),
}
VOICE_HELP: dict[str, Any] = {
    "flat_rate_calling": _("Monthly fee. Discounted or free calls under the plan's conditions. While subscribed, "
                           "changing or removing it applies from the 1st of next month only."),
    "voicemail": _("Monthly fee. Takes messages when the phone is off or out of coverage."),
    "call_waiting": _("Monthly fee. Take another call during a call."),
    "call_forwarding": _("Forwards calls to a number you choose; calls to that number are charged."),
    "group_calling": _("Monthly fee. Talk with up to 6 people at once."),
    "number_block": _("Monthly fee. Rejects calls from numbers you block."),
    "international_call_cap": _("Calls abroad from Japan, up to this amount a month. 0 yen: not available."),
    "international_roaming_cap": _("Calls on foreign networks while abroad, up to this amount a month. "
                                   "0 yen: not available."),
    "network_pin": _("4 digits, used by the carrier's remote-control and nuisance-call services. Leave empty "
                     "to keep the current PIN."),
}
#: Data caps (MB) offered on plans that have one (M-PROC-3), up to the plan's allowance.
DATA_CAPS_MB = (100, 300, 500, 1024, 2048, 3072, 5120, 10240)

_YES_NO = [("1", _("Subscribe")), ("0", _("Do not subscribe"))]


def _yen_label(amount: int) -> str:
    from kaisen.core.templatetags.kaisen_ui import yen

    return yen(amount)


def _mb_label(mb: int) -> str:
    return f"{mb // 1024} GB" if mb >= 1024 and mb % 1024 == 0 else f"{mb} MB"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class ProcedureForm(forms.Form):
    """One procedure's input. ``params()`` gives the service's ``params`` from ``cleaned_data``."""

    kind: ClassVar[str]
    #: The key of the idempotent submit, made when the input page is first drawn (M-PROC-7).
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args: Any, line: Line, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.today = clock.today_jst()
        self.setup()

    def setup(self) -> None:
        """Adjust the fields to the line (choices, date limits, initial values)."""

    def _date_limits(self, name: str, lo: dt.date, hi: dt.date | None) -> None:
        field = self.fields[name]
        field.widget.attrs["min"] = lo.isoformat()
        if hi is not None:
            field.widget.attrs["max"] = hi.isoformat()

    def params(self) -> dict[str, Any]:
        return {}

    @property
    def visible_field_names(self) -> list[str]:
        return [f.name for f in self.visible_fields()]


class MnpActivationForm(ProcedureForm):
    kind = OrderKind.MNP_ACTIVATION
    activation_date = forms.DateField(label=_("Activation date"), widget=DateInput(),
                                      help_text=_("From today up to the expiry of the MNP reservation number."))

    def setup(self) -> None:
        self.fields["activation_date"].initial = self.today
        self._date_limits("activation_date", self.today, self.line.mnp_port_in_expires_on)

    def params(self) -> dict[str, Any]:
        return {"activation_date": self.cleaned_data["activation_date"].isoformat()}


class SuspendForm(ProcedureForm):
    kind = OrderKind.SUSPEND


class ResumeForm(ProcedureForm):
    kind = OrderKind.RESUME


class VoiceOptionsForm(ProcedureForm):
    kind = OrderKind.VOICE_OPTIONS
    effective = forms.ChoiceField(
        label=_("Effective"), widget=forms.RadioSelect,
        choices=[("today", _("Today (immediately)")), ("next_month", _("The 1st of next month"))],
        initial="today",
    )
    network_pin = forms.CharField(
        label=VOICE_LABELS["network_pin"], required=False, max_length=4,
        help_text=VOICE_HELP["network_pin"],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9０-９]{4}",
                                      "class": "pin-input"}),
    )

    def setup(self) -> None:
        current = self.line.voice_options or {}
        spec = VOICE_OPTIONS.get(self.line.carrier, VOICE_OPTIONS[Carrier.DOCOMO])
        fields: dict[str, forms.Field] = {}
        for name, value_kind in spec.items():
            if value_kind == "bool":
                fields[name] = forms.TypedChoiceField(
                    label=VOICE_LABELS.get(name, name), choices=_YES_NO, coerce=lambda v: v == "1",
                    widget=forms.RadioSelect, help_text=VOICE_HELP.get(name, ""),
                    initial="1" if current.get(name) else "0",
                )
            elif value_kind in ("call_cap", "roaming_cap"):
                values = INTERNATIONAL_CALL_CAPS if value_kind == "call_cap" else INTERNATIONAL_ROAMING_CAPS
                fields[name] = forms.TypedChoiceField(
                    label=VOICE_LABELS.get(name, name), coerce=int, help_text=VOICE_HELP.get(name, ""),
                    choices=[(str(v), _yen_label(v) if v else _("0 yen (not available)")) for v in values],
                    initial=str(current.get(name, 0)),
                )
        rest = {k: self.fields[k] for k in ("network_pin", "effective", "idempotency_key")}
        if "network_pin" not in spec:
            del rest["network_pin"]
        self.fields = {**fields, **rest}  # type: ignore[assignment]

    @property
    def flat_rate_subscribed(self) -> bool:
        return bool((self.line.voice_options or {}).get("flat_rate_calling"))

    @property
    def switch_names(self) -> list[str]:
        return [n for n in VOICE_SWITCHES.get(self.line.carrier, ()) if n in self.fields]

    @property
    def option_names(self) -> list[str]:
        return [n for n in self.fields if n not in ("effective", "idempotency_key")]

    def clean_network_pin(self) -> str:
        pin = jaconv.z2h(self.cleaned_data.get("network_pin") or "", digit=True, ascii=True).strip()
        if pin and not re.fullmatch(r"\d{4}", pin):
            raise forms.ValidationError(_("The network PIN is 4 digits."))
        return pin

    def params(self) -> dict[str, Any]:
        """Only what changes: an option the line does not have yet counts as off (0 yen for a cap)."""
        data = self.cleaned_data
        current = self.line.voice_options or {}
        options: dict[str, Any] = {}
        for name in self.option_names:
            if name == "network_pin":
                if data.get(name) and data[name] != current.get(name):
                    options[name] = data[name]
            elif data[name] != current.get(name, 0 if name.endswith("_cap") else False):
                options[name] = data[name]
        return {"effective": data["effective"], "options": options}


class PlanChangeForm(ProcedureForm):
    kind = OrderKind.PLAN_CHANGE
    plan_code = forms.ChoiceField(label=_("Plan"))
    data_cap_mb = forms.TypedChoiceField(
        label=_("Data cap"), required=False, coerce=int, empty_value=None,
        help_text=_("Only on plans with a selectable data cap, up to the plan's data allowance. Empty: no cap."),
    )

    def __init__(self, *args: Any, plans: list[Plan], **kwargs: Any) -> None:
        self.plans = plans
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        field = self.fields["plan_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(p.code, self.plan_label(p)) for p in self.plans]
        field.initial = self.line.plan.code
        largest = max((p.data_allowance_mb or 10**9 for p in self.plans if p.has_data_cap), default=0)
        cap = self.fields["data_cap_mb"]
        assert isinstance(cap, forms.ChoiceField)
        cap.choices = [("", _("No cap")), *((str(v), _mb_label(v)) for v in DATA_CAPS_MB if v <= largest)]
        if self.line.data_cap_mb and str(self.line.data_cap_mb) not in dict(cap.choices):
            cap.choices = [*cap.choices, (str(self.line.data_cap_mb), _mb_label(self.line.data_cap_mb))]
        cap.initial = str(self.line.data_cap_mb) if self.line.data_cap_mb else ""
        if not any(p.has_data_cap for p in self.plans):
            del self.fields["data_cap_mb"]

    @staticmethod
    def plan_label(plan: Plan) -> str:
        volume = _mb_label(plan.data_allowance_mb) if plan.data_allowance_mb else _("unlimited")
        cap = _(", data cap selectable") if plan.has_data_cap else ""
        price = plan_price_label(plan, clock.today_jst())
        return f"{plan.code} — {plan.name} ({volume}{', ' + price if price else ''}{cap})"

    def plan_by_code(self, code: str) -> Plan | None:
        return next((p for p in self.plans if p.code == code), None)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        plan = self.plan_by_code(data.get("plan_code") or "")
        if plan is not None and not plan.has_data_cap and data.get("data_cap_mb"):
            self.add_error("data_cap_mb", _("This plan has no selectable data cap."))
        return data

    def params(self) -> dict[str, Any]:
        return {"plan_code": self.cleaned_data["plan_code"], "data_cap_mb": self.cleaned_data.get("data_cap_mb")}


class SimReissueForm(ProcedureForm):
    kind = OrderKind.SIM_REISSUE
    method = forms.ChoiceField(
        label=_("Reissue method"), widget=forms.RadioSelect, initial=SHIP,
        choices=[(SHIP, _("Ship a ready-to-use SIM (black SIM)")), (OTA, _("OTA rewrite (not offered yet)"))],
    )
    sim_size = forms.ChoiceField(label=_("SIM size"), help_text=_("Only the sizes offered for this line."))
    ship_date = forms.DateField(
        label=_("Ship date"), widget=DateInput(),
        help_text=_("Up to one week ahead. The line switches to the new SIM on this date: the current SIM stops "
                    "working then."),
    )
    other_address = forms.BooleanField(label=_("Deliver to an address other than the registered one"),
                                       required=False)
    postal_code = forms.CharField(label=_("Postal code"), required=False, max_length=10,
                                  widget=forms.TextInput(attrs={"placeholder": "123-4567", "inputmode": "numeric",
                                                                "autocomplete": "postal-code"}))
    address = forms.CharField(label=_("Address"), required=False, max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "street-address"}))
    recipient = forms.CharField(label=_("Recipient (company, department, name)"), required=False, max_length=100)

    def setup(self) -> None:
        sizes = offered_sizes(self.line)
        field = self.fields["sim_size"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(s, SimSize(s).label) for s in sizes]
        if sizes:
            field.initial = self.line.sim_size if self.line.sim_size in sizes else sizes[0]
        self.fields["ship_date"].initial = self.today
        self._date_limits("ship_date", self.today, self.today + dt.timedelta(days=SHIP_DAYS_AHEAD))
        self.methods = sim_reissue_methods(self.line)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("other_address"):
            for name in ("postal_code", "address", "recipient"):
                if not (data.get(name) or "").strip():
                    self.add_error(name, _("Required for a delivery to another address."))
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {"method": data["method"], "sim_size": data["sim_size"],
                                  "ship_date": data["ship_date"].isoformat()}
        if data.get("other_address"):
            params["delivery_address"] = {"postal_code": data["postal_code"].strip(),
                                          "address": data["address"].strip(), "recipient": data["recipient"].strip()}
        return params


def to_full_width(text: str) -> str:
    """Half-width letters, digits and kana to full width (ｶﾌﾞｼｷｶﾞｲｼｬ → カブシキガイシャ)."""
    return jaconv.h2z(text.strip(), kana=True, ascii=True, digit=True)


class MnpReservationForm(ProcedureForm):
    kind = OrderKind.MNP_RESERVATION
    holder_name = forms.CharField(
        label=_("Contract holder name"), max_length=100,
        help_text=_("The company name in full-width characters (letters too), exactly as in the contract with the "
                    "new carrier. Do not enter a person's name."),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. 株式会社サンプル"), "autocomplete": "organization"}),
    )
    holder_name_kana = forms.CharField(
        label=_("Contract holder name (katakana)"), max_length=100,
        help_text=_("In full-width katakana. Half-width katakana is converted to full width for you."),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. カブシキガイシャサンプル")}),
    )

    def clean_holder_name(self) -> str:
        return to_full_width(self.cleaned_data["holder_name"])

    def clean_holder_name_kana(self) -> str:
        return to_full_width(self.cleaned_data["holder_name_kana"])

    def params(self) -> dict[str, Any]:
        return {"holder_name": self.cleaned_data["holder_name"],
                "holder_name_kana": self.cleaned_data["holder_name_kana"], "category": "corporate"}


class CancellationForm(ProcedureForm):
    kind = OrderKind.CANCELLATION
    end_date = forms.DateField(
        label=_("End date"), widget=DateInput(),
        help_text=_("By default the last day of this month; at most 2 years ahead."),
    )

    def setup(self) -> None:
        self.fields["end_date"].initial = calendar.last_day_of_month(self.today)
        self._date_limits("end_date", self.today, calendar.add_years(self.today, CANCEL_YEARS_AHEAD))

    def params(self) -> dict[str, Any]:
        return {"end_date": self.cleaned_data["end_date"].isoformat()}


FORMS: dict[str, type[ProcedureForm]] = {
    form.kind: form
    for form in (MnpActivationForm, SuspendForm, ResumeForm, VoiceOptionsForm, PlanChangeForm, SimReissueForm,
                 MnpReservationForm, CancellationForm)
}


class BulkUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Procedure"), choices=OrderKind.choices)
    file = forms.FileField(label=_("CSV file"),
                           help_text=_("UTF-8 or Shift_JIS (as Excel saves it), a header row, then one line per row."))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > 10 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 10 MB: split it into several uploads."))
        return upload
