"""Consumption tax of an invoice (issue 4 §4; X-INVOICE-JP, M-DL-1).

The qualified-invoice rule: tax is computed **once per rate per invoice**, on the sum of that rate's
items — never per item and summed (two ¥105 items at 10 % give ¥21, not ¥10 + ¥10 = ¥20).
Tax-exempt items (international calls, roaming, international SMS) are totalled apart and carry no tax.

Rounding (the seeds say nothing, so the common Japanese practice, written here once):

* JPY: each rate's item sum is rounded **down to whole yen** (items may carry decimals, M-DL-2), then
  the tax of the rate is rounded **down to whole yen** (切り捨て, ``ROUND_FLOOR``).
* USD (Global coverage): the same, to whole **cents**.
* USD → JPY (S-COV-1): the invoice's USD total times the month's TTS rate, rounded **down to whole yen**.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from kaisen.billing.models import TAX_RATES, Currency, TaxClass

QUANTUM = {Currency.JPY: Decimal("1"), Currency.USD: Decimal("0.01")}


def floor_to(amount: Decimal, currency: str) -> Decimal:
    """Round down (towards minus infinity) to the currency's smallest unit."""
    return Decimal(amount).quantize(QUANTUM[Currency(currency)], rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class RateLine:
    """One rate of the invoice: its taxable base and the tax on it."""

    tax_class: str
    rate: Decimal
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class TaxSummary:
    currency: str
    rates: list[RateLine] = field(default_factory=list)
    exempt_total: Decimal = Decimal(0)

    @property
    def taxable_total(self) -> Decimal:
        return sum((r.base for r in self.rates), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((r.tax for r in self.rates), Decimal(0))

    @property
    def total(self) -> Decimal:
        """Amount billed before coupons: taxable + tax + exempt."""
        return self.taxable_total + self.tax_total + self.exempt_total


def compute_tax(sums: Iterable[tuple[str, Decimal]], *, currency: str) -> TaxSummary:
    """Tax for ``sums`` — ``(tax_class, amount)`` pairs, any number per class (item amounts, or per-class
    sums from the database: the result is the same, since the class is summed before rounding)."""
    per_class: dict[str, Decimal] = {}
    for tax_class, amount in sums:
        per_class[str(tax_class)] = per_class.get(str(tax_class), Decimal(0)) + Decimal(amount)
    rates: list[RateLine] = []
    exempt = Decimal(0)
    for tax_class, amount in sorted(per_class.items()):
        rate = TAX_RATES.get(tax_class)
        if rate is None:
            raise ValueError(f"unknown tax class {tax_class!r}")
        base = floor_to(amount, currency)
        if tax_class == TaxClass.EXEMPT:
            exempt += base
            continue
        rates.append(RateLine(tax_class=tax_class, rate=rate, base=base, tax=floor_to(base * rate, currency)))
    return TaxSummary(currency=currency, rates=rates, exempt_total=exempt)


def usd_to_jpy(amount_usd: Decimal, jpy_per_usd: Decimal) -> int:
    """USD converted at the month's TTS rate, rounded down to whole yen (S-COV-1)."""
    return int((Decimal(amount_usd) * Decimal(jpy_per_usd)).to_integral_value(rounding=ROUND_FLOOR))
