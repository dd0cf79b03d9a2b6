"""Template helpers of the line procedure pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BoundField
from django.utils.html import format_html
from django.utils.safestring import SafeString

from kaisen.core.clock import JST
from kaisen.procedures.display import KIND_ICONS, KIND_TEXT, STATUS_CLASSES, event_note
from kaisen.procedures.models import OrderKind, OrderStatus

register = template.Library()

_WIDGET_CLASSES = {"select": "form-select", "checkbox": "form-check-input", "radioselect": "form-check-input"}


@register.filter
def bs(field: BoundField) -> SafeString:
    """A form field's widget with Bootstrap's classes (and ``is-invalid`` when it has errors)."""
    css = _WIDGET_CLASSES.get(field.widget_type, "form-control")
    extra = field.field.widget.attrs.get("class", "")
    if field.errors:
        css += " is-invalid"
    attrs: dict[str, Any] = {"class": f"{css} {extra}".strip()}
    if field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}_help"
    return field.as_widget(attrs=attrs)


@register.simple_tag
def order_status_badge(order: Any) -> SafeString:
    status = getattr(order, "status", order)
    label = OrderStatus(status).label if status in OrderStatus.values else status
    css = STATUS_CLASSES.get(status, "text-bg-light")
    return format_html('<span class="badge status-badge {}">{}</span>', css, label)


@register.filter
def kind_label(kind: str) -> str:
    return str(OrderKind(kind).label) if kind in OrderKind.values else kind


@register.filter
def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "tools")


@register.filter
def kind_cancel_label(kind: str) -> str:
    text = KIND_TEXT.get(kind)
    return str(text.cancel) if text else ""


@register.filter
def jst(value: Any) -> str:
    """An aware datetime as Japan time to the minute (``2026-11-30 20:00``)."""
    if value is None or value == "":
        return "—"
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M")


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.inclusion_tag("procedures/_line_card.html", takes_context=True)
def line_procedures_card(context: template.Context, line: Any) -> dict[str, Any]:
    """The 各種手続き card of the line status page: procedure buttons, pending changes, recent orders."""
    from kaisen.procedures.views import line_card_context

    request = context["request"]
    data = line_card_context(tenant=request.user.tenant, user=request.user, line=line)
    data["request"] = request
    data["csrf_token"] = context.get("csrf_token")
    return data


@register.filter(name="event_note")
def event_note_filter(note: str) -> str:
    return event_note(note)
