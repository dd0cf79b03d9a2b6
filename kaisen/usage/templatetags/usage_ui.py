"""Display helpers of the usage pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

EMPTY = "—"


@register.filter
def data_volume(value: Any) -> str:
    """Bytes for people, binary units as the plans count them: 1536 MiB → "1.50 GB"."""
    if value is None or value == "":
        return EMPTY
    n = int(value)
    if n >= 1024**3:
        return f"{n / 1024**3:,.2f} GB"
    if n >= 1024**2:
        return f"{n / 1024**2:,.1f} MB"
    if n >= 1024:
        return f"{n / 1024:,.0f} KB"
    return f"{n:,} B"


@register.filter
def minutes(seconds: Any) -> str:
    if seconds is None or seconds == "":
        return EMPTY
    return f"{float(seconds) / 60:,.1f}"


@register.filter
def percent_of(value: Any, whole: Any) -> str:
    if not whole:
        return EMPTY
    return f"{100 * int(value) / int(whole):.0f}%"
