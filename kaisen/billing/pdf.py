"""The qualified invoice (適格請求書) as a PDF, generated on demand (issue 4 §4; X-INVOICE-JP, S-COV-1).

What the invoice rules ask for, and where it comes from:

* issuer name and registration number (``T`` + 13 digits) — the invoice's own snapshot
  (``issuer_name``, ``issuer_registration_number``), so a reprint shows what was issued;
* recipient (``recipient_name``), issue date, billing month and period, due date;
* the items by tax class, summed by cost type (the per-number detail is in the CSV statements);
* per rate: the taxable total and its consumption tax; tax-exempt items apart. The figures are the ones
  the close stored on the invoice (``taxable_total``, ``tax_total``, ``exempt_total``, ``coupon_applied``,
  ``total``), computed by ``kaisen.billing.tax`` once per rate per invoice — this module prints them and
  never computes tax itself;
* a USD (Global) invoice also shows the month's TTS rate and the yen amount;
* a combined invoice (S-BILL-5) lists the items of every account on it and, under "アカウント別内訳", each
  account's operator ID, name and share (tax excluded, its own coupons); the tax is the invoice's, once per
  rate on the sum. A member account's month has no invoice of its own (``INVOICE_NOT_ISSUED``, naming the
  invoice it is billed on).

The text is Japanese, set in IPAex Gothic (IPA Font License v1.0), a TrueType font from the PyPI package
``matplotlib-fontja`` (a runtime dependency, installed by ``start.sh``; only its font file is read). The PDF
embeds the subset of the glyphs it uses, so it shows and archives the same without the reader's fonts
(``pdffonts`` lists it with emb=yes, sub=yes), and ``pdftotext`` reads the text back for the tests.
Records are kept (7 years); only this file is produced when asked for.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kaisen.billing.charges import CostTypeRow, cost_type_rows, invoice_pdf_available
from kaisen.billing.combined import AccountShare, shares
from kaisen.billing.models import TAX_RATES, Currency, Invoice, TaxClass
from kaisen.billing.tax import usd_to_jpy
from kaisen.carriers.models import Coverage
from kaisen.core.calendar import last_day_of_month
from kaisen.core.errors import DomainError, ErrorCode

FONT = "IPAexGothic"
#: The package that ships the font file (IPAex Gothic, IPA Font License v1.0) and the file inside it.
FONT_PACKAGE = "matplotlib_fontja"
FONT_FILE = "fonts/ipaexg.ttf"
INK = colors.HexColor("#14202e")
MUTED = colors.HexColor("#55626f")
RULE = colors.HexColor("#c9d2dc")
BAND = colors.HexColor("#eef3fb")
ACCENT = colors.HexColor("#1f5fbf")

_registered = False


def font_path() -> Path:
    """Where IPAex Gothic is: inside the installed ``matplotlib-fontja`` wheel (found without importing it,
    so matplotlib is never loaded)."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{FONT_PACKAGE} is not installed: run ./scripts/start.sh or ./scripts/test.sh")
    return Path(next(iter(spec.submodule_search_locations))) / FONT_FILE


def _font() -> str:
    """The TrueType font, registered once; reportlab embeds the subset of the glyphs a PDF uses."""
    global _registered
    if not _registered:
        pdfmetrics.registerFont(TTFont(FONT, str(font_path())))
        _registered = True
    return FONT


def jdate(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else "—"


def money(amount: Decimal | int | None, currency: str, *, decimals: bool = False) -> str:
    """``¥1,234`` / ``¥1,234.50`` (yen keep the decimals an item carries), ``US$12.34``."""
    value = Decimal(amount or 0)
    if currency == Currency.USD:
        return f"{'-' if value < 0 else ''}US${abs(value).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    if value == value.to_integral_value() and not decimals:
        text = f"{abs(int(value)):,}"
    else:
        text = f"{abs(value).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    return f"{'-' if value < 0 else ''}¥{text}"


def quantity(value: Decimal) -> str:
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value:,}"


def rate_label(tax_class: str) -> str:
    rate = TAX_RATES.get(tax_class, Decimal(0))
    if tax_class == TaxClass.EXEMPT or not rate:
        return "非課税"
    return f"{int(rate * 100)}%対象"


class _NumberedCanvas(rl_canvas.Canvas):
    """Draws "page n / N" and the invoice number on every page once the page count is known."""

    footer_text = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Start every page in the embedded font, not reportlab's default Helvetica (which would be a font the
        # PDF names without carrying).
        kwargs["initialFontName"] = _font()
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self.setFont(_font(), 8)
            self.setFillColor(MUTED)
            self.drawString(18 * mm, 10 * mm, self.footer_text)
            self.drawRightString(A4[0] - 18 * mm, 10 * mm, f"{self._pageNumber} / {total}")
            super().showPage()
        super().save()


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=13, textColor=INK)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=11, textColor=MUTED),
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=26, alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=9, alignment=TA_CENTER, textColor=MUTED),
        "recipient": ParagraphStyle("recipient", parent=base, fontSize=13, leading=18),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "small_right": ParagraphStyle("small_right", parent=base, fontSize=8, leading=11, alignment=TA_RIGHT),
        "issuer": ParagraphStyle("issuer", parent=base, fontSize=10.5, leading=15, alignment=TA_RIGHT),
        "h": ParagraphStyle("h", parent=base, fontSize=10.5, leading=15, spaceBefore=6, spaceAfter=3),
    }


def _table(data: list[list[Any]], widths: list[float], style: list[tuple[Any, ...]]) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), _font(), 8.5), ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 3),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 3), *style]))
    return table


def _items_table(rows: list[CostTypeRow], currency: str, width: float) -> Table:
    header = ["税区分", "内容", "数量", "電話番号数", "金額（税抜）"]
    data: list[list[Any]] = [header]
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), INK), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
    ]
    decimals = any(r.amount != r.amount.to_integral_value() for r in rows)
    by_class: dict[str, list[CostTypeRow]] = {}
    for row in rows:
        by_class.setdefault(row.tax_class, []).append(row)
    for tax_class, group in by_class.items():
        label = rate_label(tax_class)
        data.append([f"{label}（{'外税' if tax_class != TaxClass.EXEMPT else '消費税なし'}）", "", "", "", ""])
        style += [("BACKGROUND", (0, len(data) - 1), (-1, len(data) - 1), BAND),
                  ("SPAN", (0, len(data) - 1), (-1, len(data) - 1)), ("ALIGN", (0, len(data) - 1), (0, len(data) - 1),
                                                                      "LEFT")]
        for row in group:
            data.append([label, row.label, quantity(row.quantity), f"{row.numbers:,}" if row.numbers else "—",
                         money(row.amount, currency, decimals=decimals)])
        subtotal = sum((r.amount for r in group), Decimal(0))
        data.append(["", f"{label} 小計", "", "", money(subtotal, currency, decimals=decimals)])
        style += [("LINEABOVE", (1, len(data) - 1), (-1, len(data) - 1), 0.6, INK)]
    if len(data) == 1:
        data.append(["", "ご利用はありません", "", "", money(0, currency)])
    return _table(data, [0.14 * width, 0.44 * width, 0.12 * width, 0.12 * width, 0.18 * width], style)


def _summary_table(invoice: Invoice, width: float) -> Table:
    """Per rate: taxable total and its tax; exempt apart; coupons; the amount billed — all stored figures."""
    cur = invoice.currency
    taxable_classes = [tc for tc in TaxClass.values if TAX_RATES.get(tc)]
    data: list[list[Any]] = [["税率区分", "対象金額（税抜）", "消費税額", "合計（税込）"]]
    # One taxable rate today (10 %): its base and tax are the invoice's stored totals, computed once per
    # rate per invoice by the close (kaisen.billing.tax).
    assert len(taxable_classes) == 1, "the invoice stores one taxable total; a second rate needs its own figures"
    label = rate_label(taxable_classes[0])
    data.append([label, money(invoice.taxable_total, cur), money(invoice.tax_total, cur),
                 money(invoice.taxable_total + invoice.tax_total, cur)])
    data.append(["非課税", money(invoice.exempt_total, cur), "—", money(invoice.exempt_total, cur)])
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), INK), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
    ]
    if invoice.coupon_applied:
        data.append(["前払いクーポン充当", "", "", money(-invoice.coupon_applied, cur)])
    data.append(["ご請求金額", "", "消費税合計 " + money(invoice.tax_total, cur), money(invoice.total, cur)])
    style += [("BACKGROUND", (0, len(data) - 1), (-1, len(data) - 1), BAND),
              ("FONT", (0, len(data) - 1), (-1, len(data) - 1), _font(), 10),
              ("LINEABOVE", (0, len(data) - 1), (-1, len(data) - 1), 0.8, INK)]
    return _table(data, [0.28 * width, 0.24 * width, 0.24 * width, 0.24 * width], style)


def _shares_table(shares: list[AccountShare], currency: str, width: float) -> Table:
    """S-BILL-5: each account's share of a combined invoice (tax excluded; coupons are the account's own)."""
    data: list[list[Any]] = [["オペレーターID", "ご契約者名", "課税対象（税抜）", "非課税", "クーポン充当"]]
    for share in shares:
        data.append([share.operator_id, f"{share.name}{'（請求先）' if share.payer else ''}",
                     money(share.taxable, currency), money(share.exempt, currency),
                     money(-share.coupon, currency) if share.coupon else "—"])
    coupons = sum((x.coupon for x in shares), Decimal(0))
    data.append(["", "合計", money(sum((x.taxable for x in shares), Decimal(0)), currency),
                 money(sum((x.exempt for x in shares), Decimal(0)), currency),
                 money(-coupons, currency) if coupons else "—"])
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), INK), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("LINEABOVE", (0, -1), (-1, -1), 0.6, INK), ("BACKGROUND", (0, -1), (-1, -1), BAND),
    ]
    return _table(data, [0.17 * width, 0.35 * width, 0.18 * width, 0.15 * width, 0.15 * width], style)


def _lines(text: str) -> list[str]:
    """A setting's text as lines: ``|`` or a line break separates them (env vars hold one line)."""
    return [part.strip() for part in text.replace("|", "\n").splitlines() if part.strip()]


def tax_total_jpy(invoice: Invoice) -> int | None:
    """The consumption tax of a USD invoice in yen at the invoice's stored TTS rate (rounded down like every
    USD→JPY conversion, ``kaisen.billing.tax.usd_to_jpy``): a qualified invoice states the tax in yen.
    ``None`` for a yen invoice or one without a rate."""
    if invoice.currency != Currency.USD or invoice.jpy_rate is None:
        return None
    return usd_to_jpy(invoice.tax_total, invoice.jpy_rate)


def _bank_block(s: dict[str, ParagraphStyle]) -> list[Any]:
    """The account to pay into when the invoice is paid by bank transfer (KAISEN_INVOICE_BANK_TRANSFER)."""
    lines = _lines(settings.KAISEN_INVOICE_BANK_TRANSFER)
    if not lines:
        return []
    return [Paragraph("お振込先（請求書払いのお客さま）", s["h"]),
            *[Paragraph(escape(line), s["base"]) for line in lines],
            Paragraph("※ 振込手数料はお客さまのご負担でお願いいたします。お振込名義の前に請求書番号をご記入ください。",
                      s["small"]), Spacer(0, 4 * mm)]


def _not_issued(invoice: Invoice) -> DomainError:
    payer = invoice.combined_into
    if payer is not None:
        return DomainError(ErrorCode.INVOICE_NOT_ISSUED, _(
            "This month is billed on the combined invoice of account %(payer)s, which that account receives: "
            "there is no invoice of this account to download.") % {"payer": payer.tenant.public_id})
    return DomainError(ErrorCode.INVOICE_NOT_ISSUED)


def invoice_pdf(*, invoice: Invoice) -> bytes:
    """The invoice as PDF bytes. Only an issued invoice has one (``INVOICE_NOT_ISSUED`` otherwise)."""
    if not invoice_pdf_available(invoice):
        raise _not_issued(invoice)
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=f"請求書 {invoice.number}", author=invoice.issuer_name,
                            subject=f"{invoice.month.year}年{invoice.month.month}月分 ご利用料金",
                            creator="Kaisen")
    width = doc.width
    cur = invoice.currency
    tenant = invoice.tenant
    period = f"{jdate(invoice.month)}～{jdate(last_day_of_month(invoice.month))}"
    coverage = "日本" if invoice.coverage == Coverage.JAPAN else "グローバル"

    story: list[Any] = [Paragraph("請求書", s["title"]), Paragraph("適格請求書", s["subtitle"]), Spacer(0, 6 * mm)]

    left = [Paragraph(f"{invoice.recipient_name or tenant.legal_name} 御中", s["recipient"]),
            Spacer(0, 2 * mm),
            Paragraph(f"オペレーターID　{tenant.public_id}", s["small"]),
            Paragraph(f"契約コード　{tenant.contract_code}", s["small"])]
    right = [Paragraph(f"請求書番号　{invoice.number}", s["right"]),
             Paragraph(f"発行日　{jdate(invoice.issued_on)}", s["right"]),
             Spacer(0, 3 * mm),
             Paragraph(invoice.issuer_name, s["issuer"]),
             Paragraph(f"登録番号　{invoice.issuer_registration_number}", s["issuer"])]
    right += [Paragraph(escape(line), s["small_right"]) for line in _lines(settings.KAISEN_INVOICE_ISSUER_ADDRESS)]
    right += [Paragraph(escape(line), s["small_right"]) for line in _lines(settings.KAISEN_INVOICE_ISSUER_CONTACT)]
    head = Table([[left, right]], colWidths=[0.55 * width, 0.45 * width])
    head.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), _font(), 9), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LINEBELOW", (0, 0), (0, 0), 0.8, INK),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [head, Spacer(0, 5 * mm), Paragraph("下記のとおりご請求申し上げます。", s["base"]), Spacer(0, 3 * mm)]

    amount_rows: list[list[Any]] = [
        ["ご請求金額（税込）", money(invoice.total, cur)],
    ]
    if cur == Currency.USD:
        rate = invoice.jpy_rate
        amount_rows.append(["円換算額", money(invoice.total_jpy, Currency.JPY)])
        month = f"{invoice.month.year}年{invoice.month.month}月"
        amount_rows.append(["換算レート", f"1 USD = {rate:,} 円（{month} 月中平均TTS）" if rate is not None else "—"])
        tax_jpy = tax_total_jpy(invoice)
        tax_text = f"{money(tax_jpy, Currency.JPY)}（{money(invoice.tax_total, cur)} × 換算レート、円未満切り捨て）"
        amount_rows.append(["うち消費税額（円換算）", tax_text if tax_jpy is not None else "—"])
    amount_rows += [
        ["お支払期限", jdate(invoice.due_on)],
        ["ご請求対象", f"{invoice.month.year}年{invoice.month.month}月ご利用分（{period}）"],
        ["カバレッジ", coverage],
    ]
    box = Table(amount_rows, colWidths=[0.28 * width, 0.72 * width])
    box.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), _font(), 9), ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("FONT", (0, 0), (-1, 0), _font(), 14), ("TEXTCOLOR", (1, 0), (1, 0), ACCENT),
        ("BACKGROUND", (0, 0), (0, -1), BAND), ("BOX", (0, 0), (-1, -1), 0.8, INK),
        ("LINEBELOW", (0, 0), (-1, -2), 0.25, RULE), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    story += [box, Spacer(0, 6 * mm)]

    account_shares = shares(invoice)
    if account_shares:
        story += [Paragraph("アカウント別内訳", s["h"]), _shares_table(account_shares, cur, width),
                  Paragraph("※ 複数アカウントのご利用料金をこの請求書にまとめてご請求しています。"
                            "消費税は請求書全体で計算しています。", s["small"]), Spacer(0, 5 * mm)]
    rows = cost_type_rows(invoice=invoice)
    story += [Paragraph("ご請求内訳", s["h"]), _items_table(rows, cur, width), Spacer(0, 5 * mm)]
    story += [KeepTogether([Paragraph("税率ごとの合計と消費税額", s["h"]), _summary_table(invoice, width)]),
              Spacer(0, 4 * mm)]
    story += _bank_block(s)
    notes = [
        "※ 消費税額は、税率ごとに区分して合計した対価の額に対して、請求書ごとに1回だけ端数処理（切り捨て）しています。",
        "※ 非課税：国際通話、国際ローミング、国際SMSの料金です（消費税はかかりません）。",
        "※ 電話番号ごとの内訳は、ポータルの「ご利用料金」画面またはCSV明細でご確認いただけます。",
    ]
    if cur == Currency.USD:
        notes.append("※ グローバルカバレッジのご利用料金は米ドル建てで、ご利用月の月中平均TTSにより円換算しています。")
    story += [Paragraph(n, s["small"]) for n in notes]

    footer = f"{invoice.issuer_name}　請求書番号 {invoice.number}"
    doc.build(story, canvasmaker=type("InvoiceCanvas", (_NumberedCanvas,), {"footer_text": footer}))
    return buffer.getvalue()


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"invoice_{invoice.tenant.public_id}_{invoice.month:%Y%m}_{invoice.coverage}.pdf"
