"""The catalogue of named actions that policies allow or deny (issue 5 §1).

Every service that changes or reads tenant data names one of these in its permission check. Names are
``Resource:verb``; policies may use wildcards (``Line:*``, ``*``). A user's own sign-in settings (password,
sessions, two-step login, their own username) are not actions: every user may always manage them.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Lines and their procedures (issue 3).
LINE_READ = "Line:read"
LINE_TAG = "Line:tag"
LINE_SUSPEND = "Line:suspend"
LINE_RESUME = "Line:resume"
LINE_CANCEL = "Line:cancel"
LINE_CHANGE_PLAN = "Line:change_plan"
LINE_CHANGE_OPTIONS = "Line:change_options"
LINE_REISSUE_SIM = "Line:reissue_sim"
LINE_PORT_OUT = "Line:port_out"
LINE_MNP_ACTIVATE = "Line:mnp_activate"
ORDER_READ = "Order:read"
ORDER_CANCEL = "Order:cancel"
BULK_SUBMIT = "Bulk:submit"
APPROVAL_DECIDE = "Approval:decide"

# Usage, billing and statements (issue 4).
USAGE_READ = "Usage:read"
BILLING_READ = "Billing:read"
PAYMENT_MANAGE = "Payment:manage"
STATEMENT_REQUEST = "Statement:request"
STATEMENT_DOWNLOAD = "Statement:download"

# The account, its users and their access (issue 5).
USER_MANAGE = "User:manage"
APIKEY_MANAGE = "ApiKey:manage"
AUDIT_READ = "Audit:read"
ROLE_MANAGE = "Role:manage"
ACCOUNT_MANAGE = "Account:manage"
ACCOUNT_READ = "Account:read"  # contract summary and number pages (K-1, K-2; helper "acct")
LINE_TRANSFER = "Line:transfer"  # SIM transfer to another account (S-ACC-4; helper "acct")

# SIM and device quotes and orders (issue 12).
GOODS_QUOTE = "Goods:quote"
GOODS_ORDER = "Goods:order"
GOODS_READ = "Goods:read"
# Events, webhooks, usage alerts and budgets (issue 13).
WEBHOOK_MANAGE = "Webhook:manage"
ALERT_READ = "Alert:read"
ALERT_MANAGE = "Alert:manage"

#: Every action with what it lets a user do (the role editor shows it).
ACTIONS: dict[str, Promise] = {
    LINE_READ: _("See lines, their status and details"),
    LINE_TAG: _("Tag lines (department, cost centre, group)"),
    LINE_SUSPEND: _("Suspend a line"),
    LINE_RESUME: _("Resume a suspended line"),
    LINE_CANCEL: _("Cancel a line"),
    LINE_CHANGE_PLAN: _("Change a line's plan or data cap"),
    LINE_CHANGE_OPTIONS: _("Change a line's voice options"),
    LINE_REISSUE_SIM: _("Reissue a SIM or change its size"),
    LINE_PORT_OUT: _("Get an MNP reservation number (port-out)"),
    LINE_MNP_ACTIVATE: _("Activate an MNP port-in"),
    ORDER_READ: _("See orders and bulk uploads"),
    ORDER_CANCEL: _("Withdraw a pending order"),
    BULK_SUBMIT: _("Upload bulk applications (CSV)"),
    APPROVAL_DECIDE: _("Approve or reject other users' requests"),
    USAGE_READ: _("See usage (calls, data)"),
    BILLING_READ: _("See invoices and charges"),
    PAYMENT_MANAGE: _("Manage payments and the payment method"),
    STATEMENT_REQUEST: _("Request statements"),
    STATEMENT_DOWNLOAD: _("Download statements"),
    USER_MANAGE: _("Manage users"),
    APIKEY_MANAGE: _("Create and revoke own API keys"),
    AUDIT_READ: _("Read and export the audit log"),
    ROLE_MANAGE: _("Manage roles, their statements, line tags and approval settings"),
    ACCOUNT_MANAGE: _("Change the contract's details, transfer SIMs and close the account"),
    ACCOUNT_READ: _("See the contract summary and the phone-number details"),
    LINE_TRANSFER: _("Transfer never-used SIMs to another account, or accept them"),
    GOODS_QUOTE: _("Make and email quotes for SIMs and devices"),
    GOODS_ORDER: _("Order SIMs and devices, or cancel such an order"),
    GOODS_READ: _("See SIM and device orders and payment statements"),
    WEBHOOK_MANAGE: _("Manage webhook endpoints, see their delivery log and redeliver"),
    ALERT_READ: _("See usage alert rules and their history"),
    ALERT_MANAGE: _("Manage usage alert rules and the monthly budget"),
}

#: The action each line procedure needs (``kaisen.procedures.models.OrderKind`` values).
ORDER_KIND_ACTIONS: dict[str, str] = {
    "mnp_activation": LINE_MNP_ACTIVATE,
    "suspend": LINE_SUSPEND,
    "resume": LINE_RESUME,
    "voice_options": LINE_CHANGE_OPTIONS,
    "plan_change": LINE_CHANGE_PLAN,
    "sim_reissue": LINE_REISSUE_SIM,
    "mnp_reservation": LINE_PORT_OUT,
    "cancellation": LINE_CANCEL,
}

#: The destructive procedures an approval policy can hold for a second user (issue 5 §1).
APPROVAL_KINDS: tuple[str, ...] = ("cancellation", "mnp_reservation", "plan_change")

#: Actions over data that is not filtered by lines: a user limited to a subset of lines never holds them, whatever
#: their roles say (the audit log names every line of the tenant).
NOT_LINE_SCOPED: frozenset[str] = frozenset({AUDIT_READ, GOODS_ORDER, GOODS_READ, WEBHOOK_MANAGE, ALERT_READ,
                                              ALERT_MANAGE})

RESOURCES: frozenset[str] = frozenset(name.split(":", 1)[0] for name in ACTIONS)


def order_kind_action(kind: str) -> str:
    try:
        return ORDER_KIND_ACTIONS[kind]
    except KeyError:
        raise ValueError(f"no action for procedure {kind!r}") from None


def pattern_valid(pattern: str) -> bool:
    """``*``, ``Resource:*`` of a known resource, or a known action."""
    if pattern == "*" or pattern in ACTIONS:
        return True
    resource, _sep, verb = pattern.partition(":")
    return verb == "*" and resource in RESOURCES


def pattern_matches(pattern: str, action: str) -> bool:
    if pattern == "*" or pattern == action:
        return True
    return pattern.endswith(":*") and action.startswith(pattern[:-1])
