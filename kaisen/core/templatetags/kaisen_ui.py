"""Small display helpers for the portal templates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from kaisen.core.clock import JST
from kaisen.core.numbers import msisdn_format

register = template.Library()

EMPTY = "—"

_STATUS_CLASSES = {
    "not_activated": "text-bg-secondary",
    "active": "text-bg-success",
    "suspended": "text-bg-warning",
    "cancelled": "text-bg-dark",
}


@register.simple_tag
def icon(name: str, extra_class: str = "") -> SafeString:
    """An icon from the vendored Bootstrap Icons sprite (no inline styles: CSP allows none)."""
    href = static("kaisen/vendor/bootstrap-icons/icons.svg") + "#" + name
    return format_html('<svg class="bi {}" aria-hidden="true" focusable="false"><use href="{}"></use></svg>',
                       extra_class, href)


@register.filter
def msisdn(value: str | None) -> str:
    """``09012345678`` → ``090-1234-5678``; an empty number shows a dash."""
    return msisdn_format(value) if value else EMPTY


@register.simple_tag
def status_badge_for(status: str, label: Any) -> SafeString:
    css = _STATUS_CLASSES.get(status, "text-bg-light")
    return format_html('<span class="badge status-badge {}">{}</span>', css, label)


@register.simple_tag
def status_badge(line: Any) -> SafeString:
    """The coloured badge of a line's status (未開通 / 利用中 / 中断中 / 解約済)."""
    return status_badge_for(line.status, line.get_status_display())


@register.filter
def megabytes(value: int | None) -> str:
    """A volume in MB for people: 20480 → "20 GB", 500 → "500 MB"."""
    if value is None or value == "":
        return EMPTY
    value = int(value)
    if value >= 1024 and value % 1024 == 0:
        return f"{value // 1024} GB"
    if value >= 1024:
        return f"{value / 1024:.1f} GB"
    return f"{value} MB"


@register.filter
def yen(value: int | None) -> str:
    if value is None or value == "":
        return EMPTY
    return _("¥%(amount)s") % {"amount": intcomma(int(value), use_l10n=False)}


@register.filter
def dash(value: Any) -> Any:
    """The value, or a dash when it is empty (0 is a value)."""
    if value is None or value == "" or value == {} or value == []:
        return EMPTY
    return value


def _readable(value: Any) -> Any:
    """ISO timestamps stored in the audit log shown as Japan time, to the second."""
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] in (" ", "T"):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(JST)
        return parsed.strftime("%Y-%m-%d %H:%M:%S")
    return value


@register.filter
def audit_changes(changes: Any) -> list[dict[str, Any]]:
    """An audit entry's ``changes`` as rows: ``{field, before, after, pair}`` (pair: a [before, after] list)."""
    if not isinstance(changes, dict):
        return [{"field": "", "before": None, "after": changes, "pair": False}] if changes else []
    rows = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            rows.append({"field": field, "before": _readable(value[0]), "after": _readable(value[1]), "pair": True})
        else:
            rows.append({"field": field, "before": None, "after": _readable(value), "pair": False})
    return rows


#: People's names for the audit actions; an action not listed here is shown by its code alone.
AUDIT_ACTIONS = {
    "auth.login.web": pgettext_lazy("audit action", "Login (web)"),
    "auth.login.api": pgettext_lazy("audit action", "Login (API)"),
    "auth.apikey": pgettext_lazy("audit action", "Token issued for an API key"),
    "apikey.create": pgettext_lazy("audit action", "API key created"),
    "apikey.revoke": pgettext_lazy("audit action", "API key revoked"),
    "user.create": pgettext_lazy("audit action", "User created"),
    "line.register": pgettext_lazy("audit action", "Line registered"),
    "tenant.create": pgettext_lazy("audit action", "Contract created"),
}


@register.filter
def audit_action_label(action: str) -> str:
    if action in AUDIT_ACTIONS:
        return str(AUDIT_ACTIONS[action])
    if action.startswith("admin."):
        return _("Back office: %(action)s") % {"action": action.removeprefix("admin.")}
    return ""
