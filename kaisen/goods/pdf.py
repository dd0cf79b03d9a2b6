"""The goods documents as PDFs (issue 12): the quote (見積書, S-ORD-1), the delivery note (納品書) packed in
the parcel, and the payment statement (請求明細書, S-ORD-2, seed 001 §5.4) — purchases and usage of a month
with the payer's company, department and name, the receipt substitute for card payments.

Set in the invoice's embedded Japanese font with the invoice's helpers (``kaisen.billing.pdf``). The figures
are the ones stored (the quote's and the order's), never recomputed here.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kaisen.billing.models import Currency, Invoice, InvoiceItem
from kaisen.billing.pdf import (
    BAND,
    INK,
    RULE,
    _font,
    _NumberedCanvas,
    _styles,
    _table,
    jdate,
    money,
    rate_label,
)
from kaisen.core.calendar import last_day_of_month, month_start
from kaisen.goods.billing import billed_items
from kaisen.goods.models import GoodsOrder, Quote, StatementPayer


def _issuer(s: dict[str, Any]) -> list[Any]:
    out: list[Any] = [Paragraph(escape(settings.KAISEN_INVOICE_ISSUER_NAME or "Kaisen"), s["issuer"])]
    if settings.KAISEN_INVOICE_REGISTRATION_NUMBER:
        out.append(Paragraph(f"登録番号　{settings.KAISEN_INVOICE_REGISTRATION_NUMBER}", s["issuer"]))
    for text in (settings.KAISEN_INVOICE_ISSUER_ADDRESS, settings.KAISEN_INVOICE_ISSUER_CONTACT):
        out += [Paragraph(escape(line.strip()), s["small_right"]) for line in (text or "").split("|") if line.strip()]
    return out


def _head(left: list[Any], right: list[Any], width: float) -> Table:
    head = Table([[left, right]], colWidths=[0.55 * width, 0.45 * width])
    head.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), _font(), 9), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LINEBELOW", (0, 0), (0, 0), 0.8, INK), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return head


def _rows_table(rows: list[list[Any]], width: float, *, header: list[str], widths: list[float]) -> Table:
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), INK), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (-3, 1), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE)]
    return _table([header, *rows], [w * width for w in widths], style)


def _tax_table(rates: list[dict[str, Any]], exempt: Decimal, total: Decimal, currency: str, width: float) -> Table:
    rows: list[list[Any]] = []
    for r in rates:
        rows.append([rate_label(r["tax_class"]), money(Decimal(r["base"]), currency),
                     money(Decimal(r["tax"]), currency)])
    if exempt:
        rows.append(["非課税", money(exempt, currency), "—"])
    rows.append(["合計（税込）", "", money(total, currency)])
    table = _table([["税率区分", "対象額（税抜）", "消費税額"], *rows], [0.4 * width, 0.3 * width, 0.3 * width],
                   [("BACKGROUND", (0, 0), (-1, 0), BAND), ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE)])
    return table


def _doc(buffer: io.BytesIO, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                             bottomMargin=18 * mm, title=title, creator="Kaisen")


def _build(doc: SimpleDocTemplate, story: list[Any], footer: str) -> None:
    doc.build(story, canvasmaker=type("GoodsCanvas", (_NumberedCanvas,), {"footer_text": footer}))


def quote_pdf(*, quote: Quote) -> bytes:
    """見積書: initial costs (products, shipping), running costs per month, tax per rate of each part."""
    s = _styles()
    buffer = io.BytesIO()
    doc = _doc(buffer, f"見積書 {quote.number}")
    width = doc.width
    f = quote.figures
    cur = quote.currency
    left = [Paragraph(f"{escape(quote.addressee or '')} 御中", s["recipient"]), Spacer(0, 2 * mm),
            Paragraph(f"有効期限　{jdate(quote.valid_until)}", s["base"])]
    right = [Paragraph(f"見積番号　{quote.number}", s["right"]),
             Paragraph(f"発行日　{jdate(quote.issued_on)}", s["right"]), Spacer(0, 3 * mm), *_issuer(s)]
    story: list[Any] = [Paragraph("御見積書", s["title"]), Spacer(0, 6 * mm), _head(left, right, width),
                        Spacer(0, 5 * mm), Paragraph("下記のとおりお見積り申し上げます。", s["base"]),
                        Spacer(0, 3 * mm)]
    summary = Table([["イニシャルコスト（税込）", money(quote.initial_total, cur)],
                     ["ランニングコスト（月額・税込）", money(quote.monthly_total, cur)]],
                    colWidths=[0.45 * width, 0.55 * width])
    summary.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), _font(), 11), ("BACKGROUND", (0, 0), (0, -1), BAND),
                                 ("BOX", (0, 0), (-1, -1), 0.8, INK), ("LINEBELOW", (0, 0), (-1, -2), 0.25, RULE),
                                 ("ALIGN", (1, 0), (1, -1), "RIGHT")]))
    story += [summary, Spacer(0, 5 * mm)]
    header = ["内容", "税区分", "数量", "単価（税抜）", "金額（税抜）"]
    widths = [0.42, 0.12, 0.1, 0.18, 0.18]

    def row(r: dict[str, Any]) -> list[Any]:
        return [Paragraph(escape(r["name"]), s["base"]), rate_label(r["tax_class"]), f"{r['quantity']:,}",
                money(Decimal(r["unit_price"]), cur), money(Decimal(r["amount"]), cur)]

    initial = [row(r) for r in f.get("products", [])]
    if f.get("shipping"):
        initial.append(row({**f["shipping"], "name": f"送料（{f['shipping']['name']}）"}))
    elif f.get("products"):
        initial.append([Paragraph("送料（見積もりに含めていません）", s["base"]), "", "", "", "—"])
    if initial:
        story += [Paragraph("イニシャルコスト", s["h"]),
                  _rows_table(initial, width, header=header, widths=widths), Spacer(0, 2 * mm),
                  _tax_table(f["initial"]["rates"], Decimal(f["initial"]["exempt_total"]), quote.initial_total, cur,
                             width), Spacer(0, 4 * mm)]
    running = [row(r) for r in f.get("running", [])]
    if running:
        story += [Paragraph("ランニングコスト（月額）", s["h"]),
                  _rows_table(running, width, header=header, widths=widths), Spacer(0, 2 * mm),
                  _tax_table(f["monthly"]["rates"], Decimal(f["monthly"]["exempt_total"]), quote.monthly_total, cur,
                             width), Spacer(0, 4 * mm)]
    notes = ["※ 消費税額は税率ごとに区分して合計した金額に対して1回だけ端数処理（切り捨て）しています。",
             "※ 一度に発送できる数量は、1個口（宅急便60サイズ、またはネコポス）に収まる数量までです。",
             "※ 月額のデータ通信量・通話料などの従量料金は含みません。"]
    story += [Paragraph(n, s["small"]) for n in notes]
    _build(doc, story, f"見積番号 {quote.number}")
    return buffer.getvalue()


def delivery_note_pdf(*, order: GoodsOrder) -> bytes:
    """納品書 packed in the parcel: the items, their quantities, amounts and the SIMs' ICCIDs."""
    s = _styles()
    buffer = io.BytesIO()
    doc = _doc(buffer, f"納品書 {order.number}")
    width = doc.width
    cur = order.currency
    tenant = order.tenant
    left = [Paragraph(f"{escape(tenant.legal_name)} 御中", s["recipient"]), Spacer(0, 2 * mm),
            Paragraph(f"オペレーターID　{tenant.public_id}", s["small"]),
            Paragraph(escape(f"〒{order.postal_code} {order.address}"), s["small"]),
            Paragraph(escape(f"{order.recipient} 様"), s["small"])]
    right = [Paragraph(f"注文番号　{order.number}", s["right"]),
             Paragraph(f"ご注文日　{jdate(order.created_at.date())}", s["right"]),
             Paragraph(f"出荷日　{jdate(order.shipped_on)}", s["right"]), Spacer(0, 3 * mm), *_issuer(s)]
    story: list[Any] = [Paragraph("納品書", s["title"]), Spacer(0, 6 * mm), _head(left, right, width),
                        Spacer(0, 5 * mm), Paragraph("下記のとおり納品いたします。", s["base"]), Spacer(0, 3 * mm)]
    rows = []
    for item in order.items.all():
        name = escape(item.name)
        if item.iccids:
            name += "<br/>" + "<br/>".join(f"ICCID {escape(i)}" for i in item.iccids)
        rows.append([Paragraph(name, s["base"]), rate_label(item.tax_class), f"{item.quantity:,}",
                     money(item.unit_price, cur), money(item.amount, cur)])
    story += [_rows_table(rows, width, header=["品名", "税区分", "数量", "単価（税抜）", "金額（税抜）"],
                          widths=[0.46, 0.1, 0.1, 0.17, 0.17]), Spacer(0, 3 * mm),
              _tax_table(order.tax_rates, Decimal(0), order.total, cur, width), Spacer(0, 4 * mm),
              Paragraph("お支払い方法　" + ("クレジットカード" if order.payment_method == "card"
                                           else "請求書（当月のご請求に合算）"), s["base"]),
              Paragraph("※ 納品書の再発行はしておりません。購入内容は「請求明細書」（PDF）でご確認いただけます。",
                        s["small"])]
    _build(doc, story, f"注文番号 {order.number}")
    return buffer.getvalue()


def statement_data(*, tenant: Any, coverage: str, month: dt.date) -> dict[str, Any]:
    """A month's purchases (every settled order, card and invoice) and usage (the month's invoice rows other
    than the goods rows, which are listed as purchases)."""
    start = month_start(month)
    purchases = billed_items(tenant=tenant, coverage=coverage, month=start, payment_method=None)
    invoice = Invoice.objects.filter(tenant=tenant, coverage=coverage, month=start).first()
    usage: list[InvoiceItem] = []
    if invoice is not None:
        usage = list(InvoiceItem.objects.filter(invoice=invoice).exclude(cost_type="goods")
                     .order_by("category", "cost_type", "msisdn", "id"))
    return {"month": start, "purchases": purchases, "invoice": invoice, "usage": usage}


def payment_statement_pdf(*, tenant: Any, coverage: str, month: dt.date, payer: StatementPayer) -> bytes:
    """請求明細書: the month's purchases (date, order, product, amount, payment method) and usage, with the
    payer's company, department and name."""
    data = statement_data(tenant=tenant, coverage=coverage, month=month)
    s = _styles()
    buffer = io.BytesIO()
    start = data["month"]
    doc = _doc(buffer, f"請求明細書 {start:%Y-%m}")
    width = doc.width
    cur = Currency.USD if coverage == "global" else Currency.JPY
    left = [Paragraph(escape(payer.company) + " 御中", s["recipient"])]
    if payer.department:
        left.append(Paragraph(escape(payer.department), s["base"]))
    left += [Paragraph(escape(payer.name) + " 様", s["base"]), Spacer(0, 2 * mm),
             Paragraph(f"オペレーターID　{tenant.public_id}", s["small"])]
    right = [Paragraph(f"対象期間　{jdate(start)}～{jdate(last_day_of_month(start))}", s["right"]), Spacer(0, 3 * mm),
             *_issuer(s)]
    story: list[Any] = [Paragraph("請求明細書", s["title"]), Spacer(0, 6 * mm), _head(left, right, width),
                        Spacer(0, 5 * mm)]
    rows = []
    total = Decimal(0)
    seen: set[int] = set()
    for item in data["purchases"]:
        o = item.order
        rows.append([jdate(o.settled_on), o.number, Paragraph(escape(item.name), s["base"]), f"{item.quantity:,}",
                     "カード" if o.payment_method == "card" else "請求書", money(item.amount, cur)])
        if o.pk not in seen:
            seen.add(o.pk)
            total += o.total
    story.append(Paragraph("物品のご購入", s["h"]))
    if rows:
        story += [_rows_table(rows, width, header=["決済日", "注文番号", "品名", "数量", "お支払い", "金額（税抜）"],
                              widths=[0.16, 0.19, 0.33, 0.07, 0.1, 0.15]),
                  Paragraph(f"ご購入合計（税込）　{money(total, cur)}", s["right"])]
    else:
        story.append(Paragraph("この月のご購入はありません。", s["base"]))
    story.append(Paragraph("ご利用料金", s["h"]))
    usage_rows = [[Paragraph(escape(u.label), s["base"]), u.msisdn or "—", rate_label(u.tax_class),
                   money(u.amount, cur, decimals=True)] for u in data["usage"]]
    if usage_rows:
        story.append(_rows_table(usage_rows, width, header=["内容", "電話番号", "税区分", "金額（税抜）"],
                                 widths=[0.45, 0.2, 0.15, 0.2]))
        invoice = data["invoice"]
        status = "確定" if invoice.closed_at else "暫定（月末締め前）"
        story.append(Paragraph(f"ご利用月の請求額（税込・{status}）　{money(invoice.total, cur)}", s["right"]))
    else:
        story.append(Paragraph("この月のご利用料金はありません。", s["base"]))
    story += [Spacer(0, 4 * mm),
              Paragraph("※ 本明細書は領収書ではありません。クレジットカード払いの経費精算にご利用ください。",
                        s["small"]),
              Paragraph("※ 請求書払いの物品は、決済月のご利用料金の請求書に含まれます。", s["small"])]
    _build(doc, story, f"請求明細書 {tenant.public_id} {start:%Y-%m}")
    return buffer.getvalue()


def payment_statement_filename(tenant: Any, coverage: str, month: dt.date) -> str:
    return f"payment_statement_{tenant.public_id}_{month:%Y%m}_{coverage}.pdf"

