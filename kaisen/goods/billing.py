"""Goods on the month's invoice (S-BILL-1: one invoice per account and month, goods included).

An order paid by invoice (invoice, bank debit or convenience-store slip) is billed on the invoice of the
month it was settled in — the payment just before shipment (seed 001 §5.3: 決済当月の利用料と合わせて請求).
Each item of the order (products and shipping) is one account-fee row with its own tax class; the invoice's
tax is computed per rate over all its rows (``kaisen.billing.tax``). A card order is charged on its own
just before shipment and is not on the invoice; the payment statement (``kaisen.goods.pdf``) lists both.

Registered into ``kaisen.billing.extra_fees`` by ``GoodsConfig.ready()``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kaisen.core.calendar import last_day_of_month, month_start
from kaisen.goods.models import GoodsOrderItem, OrderStatus, PaymentKind

BILLED_STATUSES = (OrderStatus.AWAITING_SHIPMENT, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


def billed_items(*, tenant: Any, coverage: str, month: dt.date, payment_method: str | None = PaymentKind.INVOICE
                 ) -> list[GoodsOrderItem]:
    start = month_start(month)
    qs = (GoodsOrderItem.objects.filter(tenant=tenant, order__tenant=tenant, order__coverage=coverage,
                                        order__status__in=BILLED_STATUSES, order__settled_on__gte=start,
                                        order__settled_on__lte=last_day_of_month(start))
          .select_related("order").order_by("order__settled_on", "order_id", "id"))
    if payment_method:
        qs = qs.filter(order__payment_method=payment_method)
    return list(qs)


def invoice_goods_items(*, tenant: Any, coverage: str, month: dt.date) -> list[dict[str, Any]]:
    return [{"amount": item.amount, "cost_type": "goods", "currency": item.order.currency,
             "label": f"{item.name} ×{item.quantity}（{item.order.number}）"[:100], "tax_class": item.tax_class}
            for item in billed_items(tenant=tenant, coverage=coverage, month=month)]
