from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from kaisen.billing.pdf import money

register = template.Library()


@register.filter
def goods_money(value: Any, currency: str = "JPY") -> str:
    """``¥1,234`` or ``US$12.34``."""
    try:
        return money(Decimal(str(value)), currency or "JPY")
    except (ArithmeticError, ValueError):
        return ""


@register.filter
def tax_rate_label(rate: Any) -> str:
    """``10%`` for ``0.10``."""
    try:
        return f"{int(Decimal(str(rate)) * 100)}%"
    except (ArithmeticError, ValueError):
        return ""
