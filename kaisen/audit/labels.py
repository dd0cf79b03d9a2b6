"""People's words for the audit log (issue 14): action codes → translated names, field names → labels, and
recorded values formatted as the other pages show them (dates in Japan time, amounts with separators,
yes/no for booleans). Shared by the audit log page (kaisen/auditlog) and its CSV export.

This app sits low in the layers (pyproject.toml, importlinter): it names the statuses it shows itself, with
the same English words the models use, so they share their Japanese translation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kaisen.core.clock import JST

EMPTY = "—"

#: Every action code the services record (tests/test_audit_labels.py walks the code for ``action=``).
ACTION_LABELS: dict[str, Promise] = {
    "access.line.tags": pgettext_lazy("audit action", "Line tags changed"),
    "access.role.create": pgettext_lazy("audit action", "Role created"),
    "access.role.delete": pgettext_lazy("audit action", "Role deleted"),
    "access.role.update": pgettext_lazy("audit action", "Role changed"),
    "access.settings": pgettext_lazy("audit action", "Approval setting changed"),
    "access.tag.create": pgettext_lazy("audit action", "Tag created"),
    "access.tag.delete": pgettext_lazy("audit action", "Tag deleted"),
    "access.user.line_limits": pgettext_lazy("audit action", "User's line limits changed"),
    "access.user.roles": pgettext_lazy("audit action", "User's roles changed"),
    "access.user.statements": pgettext_lazy("audit action", "User's permissions changed"),
    "account.contract_holder.update": pgettext_lazy("audit action", "Contract holder details changed"),
    "account.session_settings.update": pgettext_lazy("audit action", "Sign-in settings changed"),
    "account.delete": pgettext_lazy("audit action", "Account deleted"),
    "account.login_email.change": pgettext_lazy("audit action", "Login email changed"),
    "account.login_email.request": pgettext_lazy("audit action", "Login email change requested"),
    "account.login_email.withdraw": pgettext_lazy("audit action", "Login email change withdrawn"),
    "apikey.create": pgettext_lazy("audit action", "API key created"),
    # Operator controls (issue 15): written by operator staff, shown to the tenant where they name it.
    "controls.closed_day.add": pgettext_lazy("audit action", "Closed day added"),
    "controls.closed_day.remove": pgettext_lazy("audit action", "Closed day removed"),
    "controls.hours.set": pgettext_lazy("audit action", "Reception hours changed"),
    "controls.notice.publish": pgettext_lazy("audit action", "Notice published"),
    "controls.notice.withdraw": pgettext_lazy("audit action", "Notice withdrawn"),
    "controls.switch.set": pgettext_lazy("audit action", "Service switched on or off"),
    "controls.operator_switch.set": pgettext_lazy("audit action", "Operator-wide switch turned on or off"),
    "controls.window.cancel": pgettext_lazy("audit action", "Maintenance cancelled"),
    "controls.window.end": pgettext_lazy("audit action", "Maintenance ended early"),
    "controls.window.extend": pgettext_lazy("audit action", "Maintenance end changed"),
    "controls.window.schedule": pgettext_lazy("audit action", "Maintenance scheduled"),
    "apikey.permissions": pgettext_lazy("audit action", "API key permissions changed"),
    "apikey.revoke": pgettext_lazy("audit action", "API key revoked"),
    "approval.approve": pgettext_lazy("audit action", "Approval granted"),
    "approval.reject": pgettext_lazy("audit action", "Approval rejected"),
    "approval.request": pgettext_lazy("audit action", "Approval requested"),
    "approval.withdraw": pgettext_lazy("audit action", "Approval request withdrawn"),
    "auth.apikey": pgettext_lazy("audit action", "Token issued for an API key"),
    "auth.login.web": pgettext_lazy("audit action", "Login (web)"),
    "auth.login.api": pgettext_lazy("audit action", "Login (API)"),
    "auth.login.cli": pgettext_lazy("audit action", "Login (command line)"),
    "auth.mfa.web": pgettext_lazy("audit action", "Two-step login (web)"),
    "auth.mfa.api": pgettext_lazy("audit action", "Two-step login (API)"),
    "auth.mfa.cli": pgettext_lazy("audit action", "Two-step login (command line)"),
    "audit.export.web": pgettext_lazy("audit action", "Audit log exported (web)"),
    "audit.export.api": pgettext_lazy("audit action", "Audit log exported (API)"),
    "audit.export.cli": pgettext_lazy("audit action", "Audit log exported (command line)"),
    "billing.combined.add": pgettext_lazy("audit action", "Combined billing started"),
    "billing.combined.end": pgettext_lazy("audit action", "Combined billing ended"),
    "billing.coupon.add": pgettext_lazy("audit action", "Coupon added"),
    "billing.invoice.close": pgettext_lazy("audit action", "Month closed and invoiced"),
    "billing.long_term_discount.add": pgettext_lazy("audit action", "Long-term discount added"),
    "billing.tariff.update": pgettext_lazy("audit action", "Tariff changed"),
    "billing.tariff.version": pgettext_lazy("audit action", "Tariff version added"),
    "billing_email.add": pgettext_lazy("audit action", "Billing email added"),
    "billing_email.remove": pgettext_lazy("audit action", "Billing email removed"),
    "billing_email.replace": pgettext_lazy("audit action", "Billing emails replaced"),
    "bulk.dry_run": pgettext_lazy("audit action", "Bulk procedure checked (dry run)"),
    "bulk.run": pgettext_lazy("audit action", "Bulk procedure submitted"),
    "demo.lines.import": pgettext_lazy("audit action", "Demo lines imported"),
    "demo.reset": pgettext_lazy("audit action", "Demo data reset"),
    "line.ported_out": pgettext_lazy("audit action", "Line ported out"),
    "line.register": pgettext_lazy("audit action", "Line registered"),
    "mfa.disable": pgettext_lazy("audit action", "Two-step login turned off"),
    "mfa.email.confirm": pgettext_lazy("audit action", "Two-step login by email turned on"),
    "mfa.email.request": pgettext_lazy("audit action", "Two-step login by email requested"),
    "mfa.email.withdraw": pgettext_lazy("audit action", "Two-step login by email withdrawn"),
    "mfa.recovery.regenerate": pgettext_lazy("audit action", "Recovery codes renewed"),
    "mfa.totp.enable": pgettext_lazy("audit action", "Authenticator app turned on"),
    "order.received": pgettext_lazy("audit action", "Procedure received"),
    "order.scheduled": pgettext_lazy("audit action", "Procedure scheduled"),
    "order.sent": pgettext_lazy("audit action", "Procedure sent to the carrier"),
    "order.unknown": pgettext_lazy("audit action", "Procedure awaiting carrier confirmation"),
    "order.completed": pgettext_lazy("audit action", "Procedure completed"),
    "order.failed": pgettext_lazy("audit action", "Procedure failed"),
    "order.cancelled": pgettext_lazy("audit action", "Procedure withdrawn"),
    "order.staff_retry": pgettext_lazy("audit action", "Procedure retried by operator staff"),
    "payment.bank_debit_complete": pgettext_lazy("audit action", "Bank debit registration completed"),
    "payment.card_register": pgettext_lazy("audit action", "Card registered"),
    "payment.charge": pgettext_lazy("audit action", "Card charged"),
    "payment.invoice_application_decide": pgettext_lazy("audit action", "Invoice payment application decided"),
    "payment.invoice_apply": pgettext_lazy("audit action", "Invoice payment applied for"),
    "payment.method_set": pgettext_lazy("audit action", "Payment method changed"),
    "payment.receipt_record": pgettext_lazy("audit action", "Payment received"),
    "recovery_email.set": pgettext_lazy("audit action", "Recovery email set"),
    "session.revoke": pgettext_lazy("audit action", "Session signed out"),
    "statement.download": pgettext_lazy("audit action", "Statement downloaded"),
    "statement.request": pgettext_lazy("audit action", "Statement requested"),
    "tenant.create": pgettext_lazy("audit action", "Contract created"),
    "transfer.accept": pgettext_lazy("audit action", "Line transfer accepted"),
    "transfer.cancel": pgettext_lazy("audit action", "Line transfer cancelled"),
    "transfer.create": pgettext_lazy("audit action", "Line transfer started"),
    "transfer.preview": pgettext_lazy("audit action", "Line transfer checked"),
    "transfer.send": pgettext_lazy("audit action", "Lines transferred out"),
    "usage.archive": pgettext_lazy("audit action", "Usage of a month archived and removed"),
    "alert.rule.create": pgettext_lazy("audit action", "Usage alert rule created"),
    "alert.rule.delete": pgettext_lazy("audit action", "Usage alert rule deleted"),
    "alert.rule.update": pgettext_lazy("audit action", "Usage alert rule changed"),
    "budget.remove": pgettext_lazy("audit action", "Monthly budget removed"),
    "budget.set": pgettext_lazy("audit action", "Monthly budget set"),
    "goods.order.cancel": pgettext_lazy("audit action", "SIM/device order cancelled"),
    "goods.order.create": pgettext_lazy("audit action", "SIM/device order placed"),
    "goods.order.refund": pgettext_lazy("audit action", "SIM/device order refunded to the card"),
    "goods.order.deliver": pgettext_lazy("audit action", "SIM/device order delivered"),
    "goods.order.settle": pgettext_lazy("audit action", "SIM/device order charged"),
    "goods.order.ship": pgettext_lazy("audit action", "SIM/device order shipped"),
    "goods.payment_statement.download": pgettext_lazy("audit action", "Payment statement downloaded"),
    "goods.price.set": pgettext_lazy("audit action", "Catalogue price set"),
    "goods.quote.create": pgettext_lazy("audit action", "Quote created"),
    "goods.quote.email": pgettext_lazy("audit action", "Quote emailed"),
    "goods.statement_payer.set": pgettext_lazy("audit action", "Payment statement payer set"),
    "webhook.create": pgettext_lazy("audit action", "Webhook endpoint created"),
    "webhook.delete": pgettext_lazy("audit action", "Webhook endpoint deleted"),
    "webhook.redeliver": pgettext_lazy("audit action", "Webhook event redelivered"),
    "webhook.rotate_secret": pgettext_lazy("audit action", "Webhook secret rotated"),
    "webhook.update": pgettext_lazy("audit action", "Webhook endpoint changed"),
    "user.create": pgettext_lazy("audit action", "User created"),
    "user.lock": pgettext_lazy("audit action", "User locked"),
    "user.password_change": pgettext_lazy("audit action", "Password changed"),
    "user.password_reset": pgettext_lazy("audit action", "Password reset"),
    "user.password_reset_request": pgettext_lazy("audit action", "Password reset requested"),
    "user.unlock": pgettext_lazy("audit action", "User unlocked"),
    "user.update": pgettext_lazy("audit action", "User changed"),
    "user.username_change": pgettext_lazy("audit action", "Username changed"),
}


def action_label(action: str) -> str:
    """The translated name of an action code; a code nobody named yet is shown as it is."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    if action.startswith("admin."):
        return _("Operator back office: %(action)s") % {"action": action.removeprefix("admin.")}
    return action


#: Field names as the pages call them. A field not listed is shown by its name.
FIELD_LABELS: dict[str, Promise] = {
    "status": gettext_lazy("Status"), "kind": gettext_lazy("Procedure"), "params": gettext_lazy("Details"),
    "line": gettext_lazy("Line"), "lines": gettext_lazy("Lines"), "msisdn": gettext_lazy("Phone number"),
    "iccid": gettext_lazy("SIM serial (ICCID)"), "email": gettext_lazy("Email"), "method": gettext_lazy("Method"),
    "roles": gettext_lazy("Roles"), "name": gettext_lazy("Name"), "tags": gettext_lazy("Tags"),
    "tag": gettext_lazy("Tag"), "amount": gettext_lazy("Amount"), "month": gettext_lazy("Month"),
    "reason": gettext_lazy("Reason"), "filters": gettext_lazy("Filter"), "is_active": gettext_lazy("Active"),
    "legal_name": gettext_lazy("Contract holder"), "public_id": gettext_lazy("Operator ID"),
    "approval_required": gettext_lazy("Approval required"), "to": pgettext_lazy("transfer", "To"),
    "from": pgettext_lazy("transfer", "From"), "deleted_at": gettext_lazy("Deleted at"),
    "coverage": gettext_lazy("Coverage"), "payment": gettext_lazy("Payment"), "code": gettext_lazy("Code"),
    "session_idle_minutes": gettext_lazy("Sign out after this many idle minutes"),
}

#: Status words recorded in ``changes``; the same English as the models' choices (one translation).
VALUE_LABELS: dict[str, Promise] = {
    "received": gettext_lazy("Received"), "scheduled": gettext_lazy("Scheduled"),
    "sent": gettext_lazy("Sent to carrier"), "unknown": gettext_lazy("Awaiting carrier confirmation"),
    "completed": gettext_lazy("Completed"), "failed": gettext_lazy("Failed"),
    "pending": gettext_lazy("Pending"), "approved": gettext_lazy("Approved"),
    "rejected": gettext_lazy("Rejected"), "withdrawn": gettext_lazy("Withdrawn"),
    "active": gettext_lazy("Active"), "suspended": gettext_lazy("Suspended"),
    "not_activated": gettext_lazy("Not activated"), "paid": gettext_lazy("Paid"),
}
_STATUS_FIELDS = {"status"}
_AMOUNT_FIELDS = {"amount", "total", "amount_yen", "price", "fee"}


def field_label(field: str) -> str:
    return str(FIELD_LABELS[field]) if field in FIELD_LABELS else field


def _timestamp(text: str) -> str | None:
    if len(text) >= 19 and text[4:5] == "-" and text[10:11] in (" ", "T"):
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(JST)
        return parsed.strftime("%Y-%m-%d %H:%M")
    return None


def format_value(value: Any, field: str = "") -> str:
    """One recorded value for people: no Python list or dict text, dates in Japan time, 1,234 for numbers."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, int | float):
        text = intcomma(value, use_l10n=False)
        return _("¥%(amount)s") % {"amount": text} if field in _AMOUNT_FIELDS else text
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{field_label(str(k))}: {format_value(v, str(k))}" for k, v in value.items())
    text = str(value)
    if field in _AMOUNT_FIELDS and text.lstrip("-").isdigit():
        return format_value(int(text), field)
    if field in _STATUS_FIELDS and text in VALUE_LABELS:
        return str(VALUE_LABELS[text])
    return _timestamp(text) or text


@dataclass(frozen=True)
class ChangeRow:
    field: str
    label: str
    before: str | None  # None: the entry recorded only a value, no "before"
    after: str


def change_rows(changes: Any) -> list[ChangeRow]:
    """An entry's ``changes`` ({field: [before, after]} or {field: value}) as rows for people. A field whose
    before and after are the same did not change and is left out; a field with no before (a creation) shows
    only its value."""
    if not changes:
        return []
    if not isinstance(changes, dict):
        return [ChangeRow("", "", None, format_value(changes))]
    rows: list[ChangeRow] = []
    for field, value in changes.items():
        label = field_label(str(field))
        if isinstance(value, list) and len(value) == 2:
            before, after = value
            if before == after:
                continue
            rows.append(ChangeRow(str(field), label, None if before in (None, "", [], {}) else
                                  format_value(before, str(field)), format_value(after, str(field))))
        else:
            rows.append(ChangeRow(str(field), label, None, format_value(value, str(field))))
    return rows
