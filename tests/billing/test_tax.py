"""Consumption tax of an invoice (issue 4 §4, X-INVOICE-JP, S-COV-1): once per rate on the rate's sum."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kaisen.billing.models import Currency, TaxClass
from kaisen.billing.tax import compute_tax, floor_to, usd_to_jpy

T10, EX = TaxClass.TAXABLE_10, TaxClass.EXEMPT


def test_two_105_yen_items_at_10_percent_give_21_yen_not_20() -> None:
    """X-INVOICE-JP: tax on the sum (¥210 → ¥21), not per item (¥10.5 → ¥10, twice → ¥20)."""
    s = compute_tax([(T10, D(105)), (T10, D(105))], currency=Currency.JPY)
    assert s.tax_total == D(21)
    assert s.taxable_total == D(210) and s.total == D(231)
    per_item = sum(floor_to(D(105) * D("0.10"), Currency.JPY) for _ in range(2))
    assert per_item == D(20)  # what per-item rounding would have given


def test_mixed_taxable_and_exempt_items_are_totalled_apart() -> None:
    """M-DL-1: international calls and roaming are tax-exempt and shown apart; tax only on the taxable sum."""
    s = compute_tax([(T10, D(1000)), (EX, D(333)), (T10, D("2.5")), (EX, D("0.7"))], currency=Currency.JPY)
    assert s.exempt_total == D(333)  # 333.7 rounded down
    assert [(r.tax_class, r.base, r.tax) for r in s.rates] == [(T10, D(1002), D(100))]  # 1002.5 → 1002 → 100.2 → 100
    assert s.total == D(1002 + 100 + 333)


def test_tax_is_rounded_down() -> None:
    assert compute_tax([(T10, D(109))], currency=Currency.JPY).tax_total == D(10)  # 10.9 → 10 (切り捨て)


def test_usd_amounts_round_down_to_the_cent_and_convert_to_yen_rounded_down() -> None:
    """S-COV-1: Global is billed in USD and converted at the month's TTS rate; both steps round down."""
    s = compute_tax([(T10, D("12.345")), (T10, D("0.999"))], currency=Currency.USD)
    assert s.taxable_total == D("13.34") and s.tax_total == D("1.33")  # 1.334 → 1.33
    assert s.total == D("14.67")
    assert usd_to_jpy(s.total, D("149.8765")) == 2198  # 2198.688... → 2198
    assert usd_to_jpy(D("100.00"), D("150")) == 15000


def test_unknown_tax_class_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tax class"):
        compute_tax([("taxable_8", D(1))], currency=Currency.JPY)
