"""The qualified invoice PDF (X-INVOICE-JP, S-COV-1): read back with pdftotext, as a person would read it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from kaisen.billing.models import Currency, InvoiceStatus
from kaisen.billing.pdf import invoice_pdf
from kaisen.carriers.models import Coverage
from kaisen.core.errors import DomainError, ErrorCode
from tests.charges.conftest import OCT, Billed
from tests.charges.factories import ISSUER, ISSUER_T, invoice_make, item_make
from tests.conftest import make_world

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes, tmp_path: Path, *, layout: bool = True) -> str:
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext is missing: install Debian's poppler-utils and poppler-data (scripts/test.sh does)")
    path = tmp_path / "invoice.pdf"
    path.write_bytes(data)
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(args, check=True, capture_output=True, timeout=60)
    return out.stdout.decode("utf-8")


def pdf_pages(data: bytes, tmp_path: Path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, timeout=60).stdout.decode()
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]


def test_qualified_invoice_fields_read_back_x_invoice_jp(billed: Billed, tmp_path: Path) -> None:
    """X-INVOICE-JP: issuer and T-number, recipient, issue and due dates, month, tax per rate, exempt apart."""
    inv = billed.oct
    data = invoice_pdf(invoice=inv)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data, tmp_path)
    assert ISSUER in text
    assert re.search(r"登録番号\s+T\d{13}", text) and ISSUER_T in text
    assert f"{billed.world.tenant.legal_name} 御中" in text
    assert inv.number in text
    assert "発行日 2026年11月6日" in text.replace("　", " ")
    assert "お支払期限" in text and "2026年11月30日" in text
    assert "2026年10月ご利用分" in text
    # Per rate: the stored taxable total and its tax (computed once for the invoice), and the exempt total.
    rate_row = next(line for line in text.splitlines() if line.strip().startswith("10%対象") and "¥295" in line)
    assert "¥2,950" in rate_row and "¥3,245" in rate_row
    exempt_row = next(line for line in text.splitlines() if line.strip().startswith("非課税 ") and "¥120" in line)
    assert "¥295" not in exempt_row
    assert "消費税" in text and "消費税合計 ¥295" in text
    assert "ご請求金額（税込）" in text and "¥3,365" in text
    # Exempt items are listed apart from the 10% items.
    flat = pdf_text(data, tmp_path, layout=False)
    taxable_block = flat[flat.index("10%対象（外税）"):flat.index("10%対象 小計")]
    exempt_block = flat[flat.index("非課税（消費税なし）"):flat.index("非課税 小計")]
    assert "国際通話料" in exempt_block and "国際通話料" not in taxable_block
    assert "月額基本料金" in taxable_block and "月額基本料金" not in exempt_block
    assert pdf_pages(data, tmp_path) == 1


def test_tax_is_printed_as_stored_not_recomputed_per_item_x_invoice_jp(db: None, tmp_path: Path) -> None:
    """Two ¥105 items at 10 %: the invoice stores ¥21 (once per rate), and the PDF prints ¥21, not ¥20."""
    world = make_world(n_lines=2)
    inv = invoice_make(world.tenant, OCT, taxable="210", tax="21")
    item_make(inv, amount="105", label="ユニバーサルサービス料", line=world.lines[0])
    item_make(inv, amount="105", label="ユニバーサルサービス料", line=world.lines[1])
    text = pdf_text(invoice_pdf(invoice=inv), tmp_path)
    assert "消費税合計 ¥21" in text
    assert "¥231" in text  # 210 + 21
    assert "¥20 " not in text and not text.rstrip().endswith("¥20")


def test_usd_invoice_shows_tts_rate_and_yen_total_s_cov_1(db: None, tmp_path: Path) -> None:
    world = make_world(n_lines=1)
    inv = invoice_make(world.tenant, OCT, coverage=Coverage.GLOBAL, currency=Currency.USD, taxable="100.00",
                       tax="10.00", exempt="25.50", jpy_rate="151.2300", total_jpy=20_489)
    item_make(inv, amount="100.00", label="Global base fee", line=world.line)
    item_make(inv, amount="25.50", category="international", label="Roaming", line=world.line, tax_class="exempt")
    text = pdf_text(invoice_pdf(invoice=inv), tmp_path)
    assert "US$135.50" in text  # amount billed in the invoice currency
    assert "US$10.00" in text
    assert "円換算額" in text and "¥20,489" in text
    assert "1 USD = 151.2300 円" in text and "月中平均TTS" in text
    assert "グローバル" in text


def test_coupon_applied_is_shown(db: None, tmp_path: Path) -> None:
    """S-BILL-3: coupons reduce the amount billed; the PDF shows the stored deduction."""
    world = make_world(n_lines=1)
    inv = invoice_make(world.tenant, OCT, taxable="1000", tax="100", coupon="500")
    item_make(inv, amount="1000", line=world.line)
    text = pdf_text(invoice_pdf(invoice=inv), tmp_path)
    assert "前払いクーポン充当" in text and "-¥500" in text and "¥600" in text


@pytest.mark.parametrize("status", [InvoiceStatus.ACCUMULATING, InvoiceStatus.FINAL, InvoiceStatus.NO_CHARGE])
def test_no_pdf_before_the_invoice_is_issued(db: None, status: str) -> None:
    world = make_world(n_lines=1)
    inv = invoice_make(world.tenant, OCT, status=status)
    with pytest.raises(DomainError) as err:
        invoice_pdf(invoice=inv)
    assert err.value.code == ErrorCode.INVOICE_NOT_ISSUED
    api = world.api().get(f"/api/v1/bills/{inv.pk}/pdf")
    assert api.status_code == 409 and api.json()["code"] == "INVOICE_NOT_ISSUED"
    client = Client()
    client.force_login(world.user)
    page = client.get(f"/billing/{inv.pk}/pdf/")
    assert page.status_code == 409 and "application/pdf" not in page["Content-Type"]


def test_large_tenant_invoice_stays_a_short_document(db: None, tmp_path: Path) -> None:
    """Items are summed by cost type: 300 numbers with 3 charges each still fit on one page."""
    world = make_world(n_lines=300)
    inv = invoice_make(world.tenant, OCT, taxable="303000", tax="30300", exempt="3000")
    for line in world.lines:
        item_make(inv, amount="980", line=line)
        item_make(inv, amount="20", category="domestic", label="国内通話料", line=line)
        item_make(inv, amount="10", category="international", label="国際通話料", line=line, tax_class="exempt")
    data = invoice_pdf(invoice=inv)
    text = pdf_text(data, tmp_path)
    assert pdf_pages(data, tmp_path) == 1
    row = next(line for line in text.splitlines() if "月額基本料金" in line)
    assert "300" in row and "¥294,000" in row


def test_pdf_download_web_and_api(billed: Billed, tmp_path: Path) -> None:
    world = billed.world
    client = Client()
    client.force_login(world.user)
    page = client.get(f"/billing/{billed.oct.pk}/pdf/")
    assert page.status_code == 200 and page["Content-Type"] == "application/pdf"
    assert "attachment" in page["Content-Disposition"] and "202610" in page["Content-Disposition"]
    api = world.api().get(f"/api/v1/bills/{billed.oct.pk}/pdf")
    assert api.status_code == 200 and api["Content-Type"] == "application/pdf"
    assert ISSUER_T in pdf_text(api.content, tmp_path)


def test_issue_date_fields_are_the_stored_ones(billed: Billed, tmp_path: Path) -> None:
    inv = billed.oct
    inv.issued_on, inv.due_on = dt.date(2026, 11, 6), dt.date(2026, 11, 30)
    inv.save()
    text = pdf_text(invoice_pdf(invoice=inv), tmp_path)
    assert "2026年11月6日" in text and "2026年11月30日" in text


def pdf_fonts(data: bytes, tmp_path: Path) -> list[list[str]]:
    """``pdffonts`` rows (name, type, encoding, emb, sub, uni, ...) of the PDF, split on whitespace."""
    if not shutil.which("pdffonts"):
        pytest.fail("pdffonts is missing: install Debian's poppler-utils (scripts/test.sh does)")
    path = tmp_path / "fonts.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, timeout=60).stdout.decode()
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


def test_japanese_font_is_embedded_as_a_subset_issue_14(billed: Billed, tmp_path: Path) -> None:
    """Issue 14: the PDF carries its font (a subset of IPAex Gothic), so it shows and archives the same without
    the reader's fonts: every font pdffonts lists is embedded (emb=yes) and a subset (sub=yes)."""
    data = invoice_pdf(invoice=billed.oct)
    rows = pdf_fonts(data, tmp_path)
    assert rows, "pdffonts lists no font"
    for row in rows:
        name, emb, sub = row[0], row[-5], row[-4]
        assert (emb, sub) == ("yes", "yes"), f"{name} is not an embedded subset: {row}"
    assert any("IPAexGothic" in row[0] for row in rows)
    assert not any("HeiseiKakuGo" in row[0] for row in rows)
    # The embedded subset still maps back to the Japanese text.
    text = pdf_text(data, tmp_path)
    assert "請求書" in text and "御中" in text and ISSUER in text


def test_issuer_address_contact_and_bank_transfer_details_issue_14(billed: Billed, tmp_path: Path,
                                                                     settings: object) -> None:
    """Issue 14: the issuer's address and contact under its name, and the account to pay into by transfer,
    all from settings (KAISEN_INVOICE_ISSUER_ADDRESS / _CONTACT / KAISEN_INVOICE_BANK_TRANSFER)."""
    settings.KAISEN_INVOICE_ISSUER_ADDRESS = "〒105-0011 東京都港区テスト公園1-1"  # type: ignore[attr-defined]
    settings.KAISEN_INVOICE_ISSUER_CONTACT = "TEL 03-1111-2222 | seikyu@test.example"  # type: ignore[attr-defined]
    settings.KAISEN_INVOICE_BANK_TRANSFER = (  # type: ignore[attr-defined]
        "テスト銀行（0999） 丸の内支店（123） 普通預金 7654321 | 口座名義 テストツウシン（カ")
    text = pdf_text(invoice_pdf(invoice=billed.oct), tmp_path)
    assert "〒105-0011 東京都港区テスト公園1-1" in text
    assert "TEL 03-1111-2222" in text and "seikyu@test.example" in text
    assert "お振込先" in text
    assert "テスト銀行（0999） 丸の内支店（123） 普通預金 7654321" in text
    assert "口座名義 テストツウシン（カ" in text
    # Empty settings print no bank block (a production install before it sets them).
    settings.KAISEN_INVOICE_BANK_TRANSFER = ""  # type: ignore[attr-defined]
    assert "お振込先" not in pdf_text(invoice_pdf(invoice=billed.oct), tmp_path)


def test_usd_invoice_states_its_tax_in_yen_issue_14(db: None, tmp_path: Path) -> None:
    """Issue 14: a Global (USD) invoice gives its consumption tax in yen too, at the invoice's TTS rate,
    rounded down: US$10.37 × 151.23 = 1,568.2551 → ¥1,568."""
    world = make_world(n_lines=1)
    inv = invoice_make(world.tenant, OCT, coverage=Coverage.GLOBAL, currency=Currency.USD, taxable="103.70",
                       tax="10.37", exempt="0", jpy_rate="151.2300", total_jpy=17_251)
    item_make(inv, amount="103.70", label="Global base fee", line=world.line)
    text = pdf_text(invoice_pdf(invoice=inv), tmp_path)
    row = next(line for line in text.splitlines() if "消費税額（円換算）" in line)
    assert "¥1,568" in row and "US$10.37" in row
    # A yen invoice has no such row.
    jpy = invoice_make(world.tenant, OCT.replace(month=9), taxable="1000", tax="100")
    assert "円換算" not in pdf_text(invoice_pdf(invoice=jpy), tmp_path)
