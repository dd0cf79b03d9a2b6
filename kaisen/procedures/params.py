"""The ``params`` of each order kind as the API states and checks them (issue 14: schemathesis
``positive_data_acceptance`` on ``POST /lines/{line_id}/orders`` and ``.../orders/preview``).

One strict model per kind, built from the same constants as ``kaisen.procedures.rules``. The OpenAPI
document states them as a ``oneOf`` with a discriminator on ``kind`` (``order_body_schema``), and the API
checks a body against its kind's model before the service (``check_params``): a value the document calls
invalid is refused with the code the service gives that parameter (400 ``INVALID_DATE``, ``INVALID_OPTION``,
``INVALID_NAME``, ``SIZE_NOT_OFFERED``, ``METHOD_NOT_OFFERED``, ``INVALID_PLAN``, ``VALIDATION_ERROR``) and,
where it has one, the service's own message. So over the API the service's ``decide`` only refuses what the
line, stored data or the clock decides (a date out of the window, an option this carrier has not, a size the
product does not offer, a plan not offered, nothing to change).

The service itself still reads the looser forms the web forms and bulk CSV files give (``"yes"`` for a
switch, full-width digits, ``2026/12/31``); the API takes the JSON forms the document states (docs/api.md).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.schemas import SPACE, trimmed_pattern
from kaisen.lines.models import SimSize
from kaisen.procedures import rules
from kaisen.procedures.models import OrderKind

#: ``YYYY-MM-DD`` (the document's ``format: date``; the value must be a real day).
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_HALF = r"\u0000-\u007e\uff61-\uff9f"
#: The contract holder's name: full-width characters only, 1-100, no space at either end.
HOLDER_NAME_PATTERN = rf"^[^{_HALF}{SPACE}](?:[^{_HALF}]{{0,98}}[^{_HALF}{SPACE}])?$"
_KANA = r"\u30a1-\u30fa\u30fc\u30fb"
#: The holder's name in full-width katakana (full-width spaces inside), 1-100.
HOLDER_KANA_PATTERN = rf"^[{_KANA}](?:[{_KANA}\u3000]{{0,98}}[{_KANA}])?$"
POSTAL_CODE_PATTERN = r"^[0-9]{3}-?[0-9]{4}$"
PIN_PATTERN = r"^[0-9]{4}$"
#: The largest data cap a line can hold (the column is a ``PositiveIntegerField``).
MAX_DATA_CAP_MB = 2_147_483_647


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _optional(**kwargs: Any) -> Any:
    """A parameter that may be left out, never null (the document drops pydantic's ``default: null``)."""
    return Field(None, **kwargs)


def _date_field(description: str) -> Any:
    return _optional(pattern=DATE_PATTERN, description=description, json_schema_extra={"format": "date"})


class MnpActivationParams(_Strict):
    activation_date: str = _date_field("From today to the reservation number's expiry (default today).")


class NoParams(_Strict):
    pass


_ALL_OPTIONS = {name: kind for spec in rules.VOICE_OPTIONS.values() for name, kind in spec.items()}
assert set(_ALL_OPTIONS) == {"flat_rate_calling", "voicemail", "call_waiting", "call_forwarding", "group_calling",
                             "number_block", "international_call_cap", "international_roaming_cap", "network_pin"}


class VoiceOptionValues(_Strict):
    """The options to change (at least one; which exist depends on the carrier: docomo and au
    ``call_forwarding``, the caps; SoftBank ``group_calling``, ``number_block``)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    flat_rate_calling: bool = _optional()
    voicemail: bool = _optional()
    call_waiting: bool = _optional()
    call_forwarding: bool = _optional()
    group_calling: bool = _optional()
    number_block: bool = _optional()
    international_call_cap: Literal[rules.INTERNATIONAL_CALL_CAPS] = _optional(  # type: ignore[valid-type]
        description="Yen a month.", json_schema_extra={"minimum": 0, "maximum": max(rules.INTERNATIONAL_CALL_CAPS)})
    international_roaming_cap: Literal[rules.INTERNATIONAL_ROAMING_CAPS] = _optional(  # type: ignore[valid-type]
        description="Yen a month.",
        json_schema_extra={"minimum": 0, "maximum": max(rules.INTERNATIONAL_ROAMING_CAPS)})
    network_pin: str = _optional(pattern=PIN_PATTERN, description="4 digits.")

    @model_validator(mode="after")
    def _at_least_one(self) -> VoiceOptionValues:
        if not self.model_fields_set:
            raise ValueError("at least one option")
        return self


class VoiceOptionsParams(_Strict):
    effective: Literal["today", "next_month"] = _optional(
        description="Default: today, or next_month when it changes subscribed flat-rate calling.")
    options: VoiceOptionValues


class PlanChangeParams(_Strict):
    plan_code: str = _optional(max_length=32, description="A plan of the line's carrier in your contract "
                                                            "(default: the current plan).")
    data_cap_mb: int | None = _optional(ge=1, le=MAX_DATA_CAP_MB,
                                    description="Up to the plan's allowance; null: no cap; left out: kept.")


class DeliveryAddress(_Strict):
    postal_code: str = Field(pattern=POSTAL_CODE_PATTERN)
    address: str = Field(pattern=trimmed_pattern(200))
    recipient: str = Field(pattern=trimmed_pattern(100))


class SimReissueParams(_Strict):
    method: Literal["ship"] = _optional(description="Default ship (OTA is not offered yet).")
    sim_size: Literal[tuple(SimSize.values)] = Field(  # type: ignore[valid-type]
        description="One the line's product offers (a multi-size SIM: multi).")
    ship_date: str = _date_field("From today up to 7 days ahead (default today).")
    delivery_address: DeliveryAddress = _optional(description="Default: the contract's address.")


class MnpReservationParams(_Strict):
    holder_name: str = Field(pattern=HOLDER_NAME_PATTERN, description="Full-width characters.")
    holder_name_kana: str = Field(pattern=HOLDER_KANA_PATTERN, description="Full-width katakana.")
    category: Literal["corporate"] = _optional()


class CancellationParams(_Strict):
    end_date: str = _date_field("From today up to 2 years ahead (default the last day of this month).")


PARAMS_MODELS: dict[str, type[_Strict]] = {
    OrderKind.MNP_ACTIVATION: MnpActivationParams, OrderKind.SUSPEND: NoParams, OrderKind.RESUME: NoParams,
    OrderKind.VOICE_OPTIONS: VoiceOptionsParams, OrderKind.PLAN_CHANGE: PlanChangeParams,
    OrderKind.SIM_REISSUE: SimReissueParams, OrderKind.MNP_RESERVATION: MnpReservationParams,
    OrderKind.CANCELLATION: CancellationParams,
}
assert set(PARAMS_MODELS) == set(OrderKind.values)
for _kind, _model in PARAMS_MODELS.items():
    assert set(_model.model_fields) == rules.RULES[_kind].params_allowed, _kind
#: Kinds whose ``params`` must be given (a required parameter).
PARAMS_REQUIRED = frozenset(k for k, m in PARAMS_MODELS.items()
                            if any(f.is_required() for f in m.model_fields.values()))


# --- the document --------------------------------------------------------------------------------

def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _strip_null_defaults(schema: Any) -> Any:
    """``Field(None)`` marks a parameter that may be left out; it is never null (the document says so)."""
    if isinstance(schema, dict):
        out = {k: _strip_null_defaults(v) for k, v in schema.items()}
        if "default" in out and out["default"] is None:
            del out["default"]
        return out
    if isinstance(schema, list):
        return [_strip_null_defaults(v) for v in schema]
    return schema


def params_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind's ``params`` (no references)."""
    raw = PARAMS_MODELS[kind].model_json_schema()
    schema: dict[str, Any] = _strip_null_defaults(_inline(raw, raw.get("$defs", {})))
    schema.pop("title", None)
    return schema


def order_body_schema(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of the order bodies: one variant per ``kind`` with that kind's ``params``."""
    variants = []
    for kind in OrderKind.values:
        variant: dict[str, Any] = {"type": "object", "title": f"{kind} order",
                                   "properties": {"kind": {"const": kind}, "params": params_schema(kind)},
                                   "required": ["kind", "params"] if kind in PARAMS_REQUIRED else ["kind"]}
        variants.append(variant)
    schema["oneOf"] = variants
    schema["discriminator"] = {"propertyName": "kind"}


# --- the check ------------------------------------------------------------------------------------

def _first_refusal(kind: str, params: dict[str, Any], error: dict[str, Any]) -> DomainError:
    loc = [str(p) for p in error.get("loc", ())]
    kind_of_error = error.get("type", "")
    name = loc[0] if loc else "params"
    value = params.get(name) if loc else params
    if kind_of_error == "extra_forbidden" and len(loc) == 1:
        extra = sorted(set(params) - set(PARAMS_MODELS[kind].model_fields))
        return rules.refuse(ErrorCode.VALIDATION_ERROR, _("Unknown parameter(s) for this procedure: %(names)s.")
                            % {"names": ", ".join(extra)}, extra[0])
    if name in ("activation_date", "ship_date", "end_date"):
        return rules.refuse(ErrorCode.INVALID_DATE, _("'%(value)s' is not a date (YYYY-MM-DD).")
                            % {"value": value}, name)
    if name == "effective":
        return rules.refuse(ErrorCode.INVALID_OPTION, _("The change applies 'today' or 'next_month'."), name)
    if name == "options":
        if len(loc) == 1:
            if isinstance(value, dict) and not value:
                return rules.refuse(ErrorCode.INVALID_OPTION,
                                    _("Nothing would change: choose at least one new value."), name)
            return rules.refuse(ErrorCode.INVALID_OPTION, _("Give the options to change."), name)
        option = loc[1]
        if option not in _ALL_OPTIONS:
            return rules.refuse(ErrorCode.INVALID_OPTION,
                                _("'%(name)s' is not a voice option of this carrier.") % {"name": option}, option)
        kind_name = _ALL_OPTIONS[option]
        if kind_name == "bool":
            return rules.refuse(ErrorCode.INVALID_OPTION, _("'%(name)s' is on or off (true/false).")
                                % {"name": option}, option)
        if kind_name == "pin":
            return rules.refuse(ErrorCode.INVALID_OPTION, _("The network PIN is 4 digits."), option)
        allowed = rules.INTERNATIONAL_CALL_CAPS if kind_name == "call_cap" else rules.INTERNATIONAL_ROAMING_CAPS
        return rules.refuse(ErrorCode.INVALID_OPTION, _("'%(name)s' must be one of %(values)s yen.")
                            % {"name": option, "values": ", ".join(f"{v:,}" for v in allowed)}, option)
    if name == "plan_code":
        return rules.refuse(ErrorCode.INVALID_PLAN, _("There is no plan '%(code)s'.") % {"code": value}, name)
    if name == "data_cap_mb":
        if isinstance(value, int) and not isinstance(value, bool):
            return rules.refuse(ErrorCode.INVALID_OPTION,
                                _("The data cap is from 1 MB up to the plan's allowance."), name)
        return rules.refuse(ErrorCode.INVALID_OPTION, _("'%(name)s' must be a whole number.") % {"name": name}, name)
    if name == "method":
        if isinstance(value, str) and value.strip().lower() == rules.OTA:
            return rules.refuse(ErrorCode.METHOD_NOT_OFFERED, _("OTA reissue is not offered yet."), name)
        return rules.refuse(ErrorCode.METHOD_NOT_OFFERED, _("Choose 'ship' (a new SIM is shipped)."), name)
    if name == "sim_size":
        return rules.refuse(ErrorCode.SIZE_NOT_OFFERED,
                            _("The product does not offer the size '%(size)s'; choose one of: %(sizes)s.")
                            % {"size": value if value is not None else "", "sizes": ", ".join(SimSize.values)},
                            name)
    if name == "delivery_address":
        part = loc[1] if len(loc) > 1 else ""
        if part == "postal_code":
            return rules.refuse(ErrorCode.VALIDATION_ERROR,
                                _("A postal code is 3 digits, a hyphen and 4 digits (123-4567)."),
                                "delivery_address.postal_code")
        if part == "address":
            return rules.refuse(ErrorCode.VALIDATION_ERROR, _("Give the delivery address (up to 200 characters)."),
                                "delivery_address.address")
        if part == "recipient":
            return rules.refuse(ErrorCode.VALIDATION_ERROR, _("Give the recipient (up to 100 characters)."),
                                "delivery_address.recipient")
        if part and kind_of_error == "extra_forbidden" and isinstance(value, dict):
            extra = sorted(set(value) - {"postal_code", "address", "recipient"})
            return rules.refuse(ErrorCode.VALIDATION_ERROR,
                                _("Unknown parameter(s) for this procedure: %(names)s.")
                                % {"names": ", ".join(extra)}, extra[0])
        return rules.refuse(ErrorCode.VALIDATION_ERROR,
                            _("The delivery address is postal code, address and recipient."), name)
    if name == "holder_name":
        try:
            rules.holder_name_normalize(value if isinstance(value, str) else "")
        except DomainError as exc:
            return exc
        return rules.refuse(ErrorCode.INVALID_NAME, _("Type the contract holder's name in full-width characters "
                                                      "(including letters and spaces)."), name)
    if name == "holder_name_kana":
        try:
            rules.holder_kana_normalize(value if isinstance(value, str) else "")
        except DomainError as exc:
            return exc
        return rules.refuse(ErrorCode.INVALID_NAME,
                            _("Type the name in full-width katakana only (no hiragana, kanji or letters)."), name)
    if name == "category":
        return rules.refuse(ErrorCode.VALIDATION_ERROR, _("The category must be 'corporate'."), name)
    return rules.refuse(ErrorCode.VALIDATION_ERROR, _("The parameters must be an object."), "params")


def _check_dates(params: dict[str, Any]) -> None:
    import datetime as dt

    for name in ("activation_date", "ship_date", "end_date"):
        if name in params:
            try:
                dt.date.fromisoformat(params[name])
            except ValueError:
                raise rules.refuse(ErrorCode.INVALID_DATE, _("'%(value)s' is not a date (YYYY-MM-DD).")
                                   % {"value": params[name]}, name) from None


def check_params(kind: str, params: dict[str, Any]) -> None:
    """Refuse ``params`` the document calls invalid for ``kind`` (400, the service's code for the parameter).
    The first wrong parameter is named, as the service names its first refusal."""
    model = PARAMS_MODELS.get(kind)
    if model is None:
        return  # an unknown kind is the body schema's (422)
    try:
        model.model_validate_json(json.dumps(params, default=str))
    except ValidationError as exc:
        raise _first_refusal(kind, params, dict(exc.errors()[0])) from None
    _check_dates(params)
