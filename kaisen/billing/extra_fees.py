"""Account fees other apps add to an invoice at rating time, registered by those apps.

``payments`` builds on ``billing`` (its invoices), so billing cannot import payments back (issue 16 §3,
docs/decisions/0006-layers.md). The monthly close still has to add the fees a payment method brings (the
postal invoice slip fee): ``PaymentsConfig.ready()`` registers its ``invoice_extra_fees`` here.

A provider is called as ``provider(tenant=..., coverage=..., month=...)`` and returns a list of dicts with
``amount``, ``cost_type``, ``label`` and optionally ``currency`` and ``tax_class``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kaisen.core.registry import Providers

ExtraFeeProvider = Callable[..., list[dict[str, Any]]]

_providers: Providers[ExtraFeeProvider] = Providers()
register = _providers.register
providers = _providers.all
