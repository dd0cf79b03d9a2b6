"""Small display helpers for the portal templates."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

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
