"""Shared helpers for the payments tests (issue 4 §5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from kaisen.billing.models import Invoice, InvoiceStatus


def make_invoice(tenant: Any, *, month: dt.date = dt.date(2026, 9, 1), coverage: str = "japan",
                 total: str = "11000", status: str = InvoiceStatus.INVOICED, currency: str = "JPY",
                 total_jpy: int = 0) -> Invoice:
    return Invoice.objects.create(
        tenant=tenant, coverage=coverage, month=month, currency=currency, status=status,
        number=f"INV-{tenant.public_id}-{coverage[:1].upper()}{month:%Y%m}", total=Decimal(total),
        total_jpy=total_jpy or int(Decimal(total)), issued_on=month + dt.timedelta(days=36),
        due_on=month + dt.timedelta(days=60))


@pytest.fixture
def invoice_factory() -> Any:
    return make_invoice
