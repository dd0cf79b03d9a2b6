"""Currencies never mix in a statement (issue 10 §7), and the invoice detail's voice rows (issue 14).

The test world (``world.py``) has Japan lines (yen invoice) and a Global line (US-dollar invoice) in the same
month. Every amount layout keeps the seed's amount columns for yen only and puts a dollar amount in a
trailing ``(USD)`` column, with the row's currency in ``通貨``.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from kaisen.billing.models import Currency, InvoiceItem, TaxClass
from kaisen.billing.tariffs import VOICE_EXEMPT_LABEL, VOICE_TAXABLE_LABEL
from kaisen.statements.layouts import LAYOUTS
from kaisen.statements.services import statement_file, statement_request
from tests.statements.world import NOW, OCTOBER, build_world

GLOBAL_NUMBER = "09088880008"
#: The amount columns of each layout that hold money (the seed's, in yen).
YEN_COLUMNS = {
    "invoice": ["料金"], "invoice_voice": ["料金"], "cdr": ["料金"], "call_detail": ["通話料"],
    "number_charges": ["合計料金", "国内通話", "国際通話", "au通話", "その他移動体"], "billing_detail": ["料金"],
}


def _rows(world: Any, kind: str) -> list[dict[str, str]]:
    with time_machine.travel(NOW, tick=False):
        statement = statement_request(tenant=world.tenant, user=world.user, kind=kind, month=OCTOBER)
    assert statement.status == "done", statement.error
    text = statement_file(statement).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _number(row: dict[str, str]) -> str:
    return (row.get("回線電話番号") or row.get("ご利用電話番号") or "").replace("-", "")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(YEN_COLUMNS))
def test_no_statement_puts_a_dollar_amount_in_a_yen_column(kind: str) -> None:
    """Issue 10 §7: each row states its currency; a Global line's amounts are only in the (USD) columns, a
    Japan line's only in the seed's columns, so every column sums one currency."""
    world = build_world()
    rows = _rows(world, kind)
    header = LAYOUTS[kind].header
    assert "通貨" in header
    for column in YEN_COLUMNS[kind]:
        assert f"{column}(USD)" in header and header.index(f"{column}(USD)") > header.index("通貨")
    assert {r["通貨"] for r in rows} == {"JPY", "USD"}, "the world has both currencies"
    for row in rows:
        currency = "USD" if _number(row) == GLOBAL_NUMBER else "JPY"
        assert row["通貨"] == currency, row
        for column in YEN_COLUMNS[kind]:
            yen, dollars = row[column], row[f"{column}(USD)"]
            if currency == "USD":
                assert yen == "" and dollars != "", (column, row)
            else:
                assert dollars == "", (column, row)


@pytest.mark.django_db
def test_invoice_detail_columns_sum_to_each_invoice_in_its_currency() -> None:
    """An accountant's column sum of M-DL-1 is the yen invoice's items; the (USD) column the dollar one's."""
    world = build_world()
    rows = _rows(world, "invoice")
    assert LAYOUTS["invoice"].header[:6] == ["回線電話番号", "請求対象年月", "費用種別", "料金", "", "外税10%/非課税"]
    yen = sum((Decimal(r["料金"]) for r in rows if r["料金"]), Decimal(0))
    dollars = sum((Decimal(r["料金(USD)"]) for r in rows if r["料金(USD)"]), Decimal(0))
    items = InvoiceItem.objects.filter(tenant=world.tenant, invoice__month=OCTOBER)
    assert yen == sum(i.amount for i in items.filter(invoice__currency=Currency.JPY))
    assert dollars == sum(i.amount for i in items.filter(invoice__currency=Currency.USD))
    assert dollars == Decimal("13.13")


@pytest.mark.django_db
def test_invoice_detail_has_two_voice_rows_per_number_broken_down_in_the_voice_detail() -> None:
    """Issue 14, seed 000: M-DL-1 carries a number's voice charges as 音声課税対象料金 (外税10%) and
    音声非課税対象料金 (非課税: international calls and roaming); M-DL-2 lists what each one holds."""
    world = build_world()
    invoice = _rows(world, "invoice")
    voice = _rows(world, "invoice_voice")
    voice_labels = set(InvoiceItem.objects.filter(tenant=world.tenant, is_voice=True).values_list("label", flat=True))
    assert not voice_labels & {r["費用種別"] for r in invoice}, "no single voice cost type in M-DL-1"
    assert {r["費用種別"] for r in voice} <= voice_labels

    def amount(row: dict[str, str]) -> Decimal:
        return Decimal(row["料金"] or row["料金(USD)"])

    for number in ("09011110001", GLOBAL_NUMBER):
        mine = [r for r in invoice if r["回線電話番号"] == number]
        taxable = [r for r in mine if r["費用種別"] == VOICE_TAXABLE_LABEL]
        exempt = [r for r in mine if r["費用種別"] == VOICE_EXEMPT_LABEL]
        assert len(taxable) == 1 and len(exempt) == 1, mine
        assert taxable[0]["外税10%/非課税"] == "外税10%" and exempt[0]["外税10%/非課税"] == "非課税"
        detail = [r for r in voice if r["回線電話番号"] == number]
        assert amount(taxable[0]) == sum(amount(r) for r in detail if r["外税10%/非課税"] == "外税10%")
        assert amount(exempt[0]) == sum(amount(r) for r in detail if r["外税10%/非課税"] == "非課税")
        # The seed's order: fees first, then 音声課税対象料金, then 音声非課税対象料金.
        labels = [r["費用種別"] for r in mine]
        assert labels.index("月額基本料金") < labels.index(VOICE_TAXABLE_LABEL) < labels.index(VOICE_EXEMPT_LABEL)
    a = [r for r in invoice if r["回線電話番号"] == "09011110001"]
    assert [r["料金"] for r in a if r["費用種別"] == VOICE_TAXABLE_LABEL] == ["520"]  # 120 + 40 + 60 + 300
    assert [r["料金"] for r in a if r["費用種別"] == VOICE_EXEMPT_LABEL] == ["12.5"]  # international call
    g = [r for r in invoice if r["回線電話番号"] == GLOBAL_NUMBER]
    assert [r["料金(USD)"] for r in g if r["費用種別"] == VOICE_TAXABLE_LABEL] == ["0.43"]  # call + SMS
    assert [r["料金(USD)"] for r in g if r["費用種別"] == VOICE_EXEMPT_LABEL] == ["0.7"]  # roaming


@pytest.mark.django_db
def test_a_number_without_exempt_voice_charges_has_no_exempt_row() -> None:
    world = build_world()
    InvoiceItem.objects.filter(tenant=world.tenant, tax_class=TaxClass.EXEMPT).delete()
    labels = [r["費用種別"] for r in _rows(world, "invoice")]
    assert VOICE_EXEMPT_LABEL not in labels and labels.count(VOICE_TAXABLE_LABEL) == 3
