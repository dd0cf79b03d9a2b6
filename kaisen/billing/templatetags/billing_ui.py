"""Display helpers of the Charges pages: amounts in the invoice currency, months, statuses, call times (K-4)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kaisen.billing.charges import duration_hms, is_counted, tenths
from kaisen.billing.models import InvoiceStatus
from kaisen.core.clock import JST

register = template.Library()

_STATUS_CLASSES = {
    InvoiceStatus.ACCUMULATING: "text-bg-info",
    InvoiceStatus.FINAL: "text-bg-primary",
    InvoiceStatus.INVOICED: "text-bg-warning",
    InvoiceStatus.PAID: "text-bg-success",
    InvoiceStatus.PAYMENT_ERROR: "text-bg-danger",
    InvoiceStatus.NO_CHARGE: "text-bg-light border",
    InvoiceStatus.COMBINED: "text-bg-secondary",
}
_WEEKDAYS_JA = "月火水木金土日"


def _japanese() -> bool:
    return (get_language() or "ja").startswith("ja")


@register.filter
def money(value: Any, currency: str = "JPY") -> str:
    """``¥1,928`` / ``¥1,928.50`` (call charges carry tenths of yen, K-4) / ``US$12.34``."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if currency == "USD":
        return f"{sign}US${intcomma(amount.quantize(Decimal('0.01'), ROUND_HALF_UP), use_l10n=False)}"
    if amount == amount.to_integral_value():
        return f"{sign}¥{intcomma(int(amount), use_l10n=False)}"
    return f"{sign}¥{intcomma(amount.quantize(Decimal('0.01'), ROUND_HALF_UP), use_l10n=False)}"


@register.filter
def month_label(value: dt.date | None) -> str:
    """``2026年10月`` / ``October 2026``."""
    if not value:
        return "—"
    return f"{value.year}年{value.month:02d}月" if _japanese() else date_format(value, "F Y")


@register.filter
def day_label(value: dt.date | None) -> str:
    """``10/05(月)`` / ``Mon 10/05``."""
    if not value:
        return "—"
    if _japanese():
        return f"{value:%m/%d}({_WEEKDAYS_JA[value.weekday()]})"
    return f"{date_format(value, 'D')} {value:%m/%d}"


@register.simple_tag
def bill_status(invoice: Any) -> SafeString:
    css = _STATUS_CLASSES.get(invoice.status, "text-bg-light")
    badge = format_html('<span class="badge status-badge {}">{}</span>', css, invoice.get_status_display())
    payer = invoice.combined_into
    if payer is None:
        return badge
    # S-BILL-5: the member's month follows the payer's invoice (its status, never its amounts).
    return format_html('{} <span class="small text-body-secondary nowrap" title="{}">→ <span class="mono">{}</span> '
                       '<span class="badge status-badge {}">{}</span></span>', badge,
                       _("Billed on the combined invoice of this account"), payer.tenant.public_id,
                       _STATUS_CLASSES.get(payer.status, "text-bg-light"), payer.get_status_display())


@register.filter
def call_start(value: dt.datetime) -> str:
    """K-4: the start date-time to a tenth of a second, Japan time: ``05/01(金) 20:12:21.5``."""
    local = value.astimezone(JST)
    weekday = _WEEKDAYS_JA[local.weekday()] if _japanese() else date_format(local, "D")
    return f"{local:%m/%d}({weekday}) {local:%H:%M:%S}.{tenths(local)}"


@register.filter
def call_duration(call: Any) -> str:
    """K-4: ``0:01:06.0``; a directory-assistance or SMS record shows its count (``3件`` / ``3 calls``)."""
    if is_counted(call):
        return _("%(count)s items") % {"count": call.units}
    h, m, s, t = duration_hms(call.duration_ds)
    return f"{h}:{m:02d}:{s:02d}.{t}"
