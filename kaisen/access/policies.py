"""The built-in roles (issue 5 §1). Their statements live here, in code, so every tenant has the same ones
and an upgrade can correct them; a tenant adds its own custom roles in the database."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kaisen.access import actions as a


@dataclass(frozen=True)
class BuiltinRole:
    key: str
    name: Promise
    description: Promise
    allow: tuple[str, ...]
    deny: tuple[str, ...] = ()


BUILTIN_ROLES: dict[str, BuiltinRole] = {r.key: r for r in (
    BuiltinRole(
        "administrator", _("Administrator"),
        _("Everything in the tenant except closing the account and transferring SIMs to another company (root "
          "user only)."),
        allow=("*",), deny=(a.ACCOUNT_MANAGE, a.LINE_TRANSFER)),
    BuiltinRole(
        "operations", _("Operations"),
        _("Sees lines and orders; suspends and resumes lines, changes voice options, reissues SIMs, activates "
          "MNP port-ins and uploads bulk files. Cannot cancel lines, port numbers out or change plans."),
        allow=(a.LINE_READ, a.LINE_SUSPEND, a.LINE_RESUME, a.LINE_CHANGE_OPTIONS, a.LINE_REISSUE_SIM,
               a.LINE_MNP_ACTIVATE, a.ORDER_READ, a.ORDER_CANCEL, a.BULK_SUBMIT, a.USAGE_READ)),
    BuiltinRole(
        "accounting", _("Accounting"),
        _("Billing, usage, payments and statements only."),
        allow=(a.BILLING_READ, a.USAGE_READ, a.PAYMENT_MANAGE, a.STATEMENT_REQUEST, a.STATEMENT_DOWNLOAD)),
    BuiltinRole(
        "read_only", _("Read-only"),
        _("Sees lines, orders, usage, invoices, statements and the contract summary; changes nothing."),
        allow=(a.LINE_READ, a.ORDER_READ, a.USAGE_READ, a.BILLING_READ, a.STATEMENT_DOWNLOAD, a.ACCOUNT_READ)),
)}
