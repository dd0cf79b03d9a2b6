"""The functions operator controls name: what a maintenance window closes, what has its own reception hours,
what a service switch turns on or off (issue 15, M-AUTH-2, M-AUTH-3, X-OPS).

Codes are stable (stored in rows, sent by the API and the CLI); labels are for people. The procedure kinds
repeat ``kaisen.procedures.models.OrderKind``'s values (this app sits below procedures); a test keeps the two
lists equal.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

PORTAL = "portal"  # everything: web, API and CLI
PROCEDURES = "procedures"  # every line procedure
STATEMENTS = "statements"
PAYMENTS = "payments"
IMPORTS = "imports"  # CSV bulk procedures
API = "api"

PROCEDURE_KINDS: dict[str, Promise] = {
    "mnp_activation": _("MNP port-in activation"),
    "suspend": _("Suspend"),
    "resume": _("Resume"),
    "voice_options": _("Voice options change"),
    "plan_change": _("Plan / data cap change"),
    "sim_reissue": _("SIM size change / reissue"),
    "mnp_reservation": _("MNP reservation number (port-out)"),
    "cancellation": _("Cancellation"),
}


def procedure(kind: str) -> str:
    """The function code of one procedure kind: ``procedure.suspend``."""
    return f"procedure.{kind}"


#: What a maintenance window may name.
WINDOW_FUNCTIONS: dict[str, Promise] = {
    PORTAL: _("The whole portal"),
    PROCEDURES: _("All line procedures"),
    **{procedure(kind): label for kind, label in PROCEDURE_KINDS.items()},
    STATEMENTS: _("Statement downloads"),
    PAYMENTS: _("Payments"),
    IMPORTS: _("CSV bulk procedures"),
    API: _("The API"),
}

#: Reception hours: "" is every procedure's default; a procedure kind its own hours; carriers their windows.
HOURS_DEFAULT = ""
CARRIER_SOFTBANK = "carrier.softbank"
HOURS_FUNCTIONS: dict[str, Promise] = {
    HOURS_DEFAULT: _("Portal reception hours (every procedure)"),
    **{procedure(kind): label for kind, label in PROCEDURE_KINDS.items()},
    CARRIER_SOFTBANK: _("SoftBank (suspend and resume are carried out from this time)"),
}

#: Service switches per tenant (on unless switched off).
SWITCH_MNP_PORT_IN = "mnp_port_in"
SWITCH_VOICE_OPTIONS = "voice_options"
SWITCH_STATEMENTS_SHIFT_JIS = "statements_shift_jis"
SWITCH_QUOTE_CALCULATOR = "quote_calculator"
SWITCHES: dict[str, Promise] = {
    SWITCH_MNP_PORT_IN: _("MNP port-in"),
    SWITCH_VOICE_OPTIONS: _("Voice options"),
    SWITCH_STATEMENTS_SHIFT_JIS: _("Statements in Shift-JIS"),
    SWITCH_QUOTE_CALCULATOR: _("Quote calculator"),
}
#: Switches stored for a function customers do not have yet (not listed to them).
SWITCHES_NOT_OFFERED: frozenset[str] = frozenset()
#: The procedure kinds a switch governs.
SWITCH_OF_KIND: dict[str, str] = {"mnp_activation": SWITCH_MNP_PORT_IN, "voice_options": SWITCH_VOICE_OPTIONS}


#: Operator-wide switches (every tenant and visitors before sign-in): code -> (label, setting of its default).
PUBLIC_QUOTE_CALCULATOR = "public_quote_calculator"
OPERATOR_SWITCHES: dict[str, tuple[Promise, str]] = {
    PUBLIC_QUOTE_CALCULATOR: (_("Public quote calculator (before sign-in)"), "KAISEN_PUBLIC_QUOTE_CALCULATOR"),
}


def window_function_label(code: str) -> str:
    return str(WINDOW_FUNCTIONS.get(code, code))
