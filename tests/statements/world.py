"""One tenant with every case the statement layouts must get right, made directly in the database
(the usage importer and the rating/close are other apps; statements only read their rows).

Time of the golden files: 2026-11-26 10:00 JST. October 2026 is published for every monthly layout
(invoice detail from 11-10, voice detail and CDR from 11-25, monthly line list from 11-03; K-6/K-7 and the
billing detail include the current month), the daily line list is of 11-26 and the data-usage file
reports 11-24 (file date − 2) and October's total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kaisen.billing.models import ChargeCategory, Currency, Invoice, InvoiceItem, InvoiceStatus, TaxClass
from kaisen.billing.rating import category_totals_write, rerate_calls
from kaisen.carriers.models import Carrier, Coverage
from kaisen.lines.models import Line, LineStatus, SimSize, SimType
from kaisen.usage.models import CallRecord, CallType, DataUsageDaily, UsageFile
from tests.factories import PlanFactory, TenantFactory, UserFactory, make_iccid

JST = ZoneInfo("Asia/Tokyo")
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=JST)
OCTOBER = dt.date(2026, 10, 1)
PARTNER = "OP0000001234"


@dataclass
class StatementWorld:
    tenant: Any
    user: Any
    lines: dict[str, Line] = field(default_factory=dict)


def _line(world: StatementWorld, key: str, n: int, **kw: Any) -> Line:
    defaults: dict[str, Any] = dict(
        tenant=world.tenant, plan=kw.pop("plan"), carrier=Carrier.DOCOMO, iccid=make_iccid(880_000 + n),
        product_code="SIM-NANO-01", sim_type=SimType.VOICE, sim_size=SimSize.NANO, status=LineStatus.ACTIVE,
        shipped_on=dt.date(2025, 4, 1), started_on=dt.date(2025, 4, 3))
    defaults.update(kw)
    line = Line.objects.create(**defaults)
    world.lines[key] = line
    return line


def build_world(public_id: str = PARTNER) -> StatementWorld:
    tenant = TenantFactory(public_id=public_id, legal_name="明細テスト株式会社")
    user = UserFactory(tenant=tenant, is_root=True)
    world = StatementWorld(tenant=tenant, user=user)
    capped = PlanFactory(code="STMT-3G", data_allowance_mb=3072, carrier=Carrier.DOCOMO)
    unlimited = PlanFactory(code="STMT-UNL", data_allowance_mb=None, carrier=Carrier.DOCOMO)
    sb = PlanFactory(code="STMT-SB1", data_allowance_mb=1024, carrier=Carrier.SOFTBANK)
    global_plan = PlanFactory(code="STMT-G1", data_allowance_mb=1024, carrier=Carrier.DOCOMO,
                              coverage=Coverage.GLOBAL)

    a = _line(world, "a", 1, plan=capped, msisdn="09011110001", voice_options={"flat_rate_calling": True})
    b = _line(world, "b", 2, plan=unlimited, msisdn="08022220002", sim_size=SimSize.MICRO,
              product_code="=cmd|' /C calc'!A0")
    _line(world, "softbank_ota", 3, plan=sb, msisdn=None, carrier=Carrier.SOFTBANK, is_ota=True,
          status=LineStatus.NOT_ACTIVATED, sim_type=SimType.DATA, sim_size=SimSize.MULTI, started_on=None,
          shipped_on=dt.date(2026, 10, 20))
    _line(world, "docomo_ota", 4, plan=capped, msisdn="07033330003", msisdn_is_temporary=True, is_ota=True,
          status=LineStatus.NOT_ACTIVATED, sim_type=SimType.SMS, sim_size=SimSize.STANDARD, started_on=None,
          shipped_on=dt.date(2026, 11, 20))
    _line(world, "suspended", 5, plan=capped, msisdn="09044440004", status=LineStatus.SUSPENDED)
    _line(world, "ended_nov", 6, plan=capped, msisdn="09055550005", status=LineStatus.CANCELLED,
          scheduled_end_on=dt.date(2026, 11, 10))
    _line(world, "ended_oct", 7, plan=capped, msisdn="09066660006", status=LineStatus.CANCELLED,
          scheduled_end_on=dt.date(2026, 10, 5))
    _line(world, "ended_sep", 8, plan=capped, msisdn="09077770007", status=LineStatus.CANCELLED,
          scheduled_end_on=dt.date(2026, 9, 30))
    # Issue 10 §7: a Global line, billed in US dollars on its own invoice.
    g = _line(world, "global", 9, plan=global_plan, msisdn="09088880008")

    # --- invoice of October (closed) and its items -------------------------------------------------------
    invoice = Invoice.objects.create(tenant=tenant, month=OCTOBER, status=InvoiceStatus.INVOICED, number="INV-1")
    items = [
        # (line, cost_type, label, category, is_voice, amount, tax)
        (None, "account_fee", "請求書発行手数料", ChargeCategory.FEE, False, "200", TaxClass.TAXABLE_10),
        (a, "base_fee", "月額基本料金", ChargeCategory.FEE, False, "1480", TaxClass.TAXABLE_10),
        (a, "universal_service", "ﾕﾆﾊﾞｰｻﾙｻｰﾋﾞｽ料金", ChargeCategory.FEE, False, "2", TaxClass.TAXABLE_10),
        (a, "voice_xi", "Xi通話料", ChargeCategory.DOMESTIC, True, "120", TaxClass.TAXABLE_10),
        (a, "voice_au", "他社通話料(au)", ChargeCategory.MOBILE_AU, True, "40", TaxClass.TAXABLE_10),
        (a, "voice_other_mobile", "他社通話料", ChargeCategory.MOBILE_OTHER, True, "60", TaxClass.TAXABLE_10),
        (a, "voice_international", "国際通話料", ChargeCategory.INTERNATIONAL, True, "12.5", TaxClass.EXEMPT),
        (a, "option_fee", "付加機能使用料, 留守番電話 \"プラス\"", ChargeCategory.FEE, True, "300",
         TaxClass.TAXABLE_10),
        (a, "discount", "長期利用割引", ChargeCategory.DISCOUNT, False, "-100", TaxClass.TAXABLE_10),
        (b, "base_fee", "月額基本料金", ChargeCategory.FEE, False, "2980", TaxClass.TAXABLE_10),
        (b, "voice_xi", "Xi通話料", ChargeCategory.DOMESTIC, True, "0", TaxClass.TAXABLE_10),
        (b, "custom", "=HYPERLINK(\"http://x\")", ChargeCategory.FEE, False, "10", TaxClass.TAXABLE_10),
        (b, "custom2", "𠮷野家コラボ😀①", ChargeCategory.FEE, False, "5", TaxClass.TAXABLE_10),
    ]
    global_invoice = Invoice.objects.create(tenant=tenant, month=OCTOBER, status=InvoiceStatus.INVOICED,
                                            number="INV-G1", coverage=Coverage.GLOBAL, currency=Currency.USD)
    global_items = [
        (g, "base_fee", "月額基本料金", ChargeCategory.FEE, False, "12", TaxClass.TAXABLE_10),
        (g, "voice_xi", "Xi通話料", ChargeCategory.DOMESTIC, True, "0.4", TaxClass.TAXABLE_10),
        (g, "sms", "SMS送信料", ChargeCategory.SMS, True, "0.03", TaxClass.TAXABLE_10),
        (g, "voice_roaming_out", "国際ローミング通話料(発信)", ChargeCategory.INTERNATIONAL, True, "0.7",
         TaxClass.EXEMPT),
    ]
    for inv, rows in ((invoice, items), (global_invoice, global_items)):
        for line, code, label, category, voice, value, tax in rows:
            InvoiceItem.objects.create(invoice=inv, tenant=tenant, line=line, msisdn=line.msisdn if line else "",
                                       cost_type=code, label=label, category=category, is_voice=voice,
                                       amount=Decimal(value), tax_class=tax)
        category_totals_write(inv)  # the sums rating stores with its items

    # --- calls billed in October -----------------------------------------------------------------------------
    source = UsageFile.objects.create(kind="calls", name=f"calls-{public_id}.csv", sha256=f"{public_id:0>64}"[-64:])
    calls = [
        # (line, start JST, ds, units, dest, area, type, internal, exempt, charge)
        (a, (2026, 10, 1, 9, 5, 7, 300_000), 1234, 1, "0312345678", "東京", CallType.DOMESTIC, False, False, "40"),
        (a, (2026, 10, 2, 12, 0, 0, 0), 655, 1, "117", "時報", CallType.DOMESTIC, False, False, "20"),
        (a, (2026, 10, 3, 8, 0, 0, 0), 300, 1, "171", "災害用伝言ダイヤル", CallType.DOMESTIC, False, False, "20"),
        (a, (2026, 10, 4, 23, 59, 59, 900_000), 36011, 1, "188", "消費者ホットライン", CallType.OTHER_CARRIER_SERVICE,
         False, False, "20"),
        (a, (2026, 10, 5, 7, 1, 2, 0), 100, 1, "189", "児童相談所", CallType.OTHER_CARRIER_SERVICE, False, False, "20"),
        (a, (2026, 10, 6, 10, 0, 0, 0), 200, 1, "09098765432", "携帯", CallType.MOBILE_AU, False, False, "20"),
        (a, (2026, 10, 7, 10, 0, 0, 0), 200, 1, "08011112222", "携帯", CallType.MOBILE, False, False, "20"),
        (a, (2026, 10, 8, 10, 0, 0, 0), 450, 1, "010144123456", "英国", CallType.INTERNATIONAL, False, True, "12.5"),
        (a, (2026, 10, 9, 10, 0, 0, 0), 0, 3, "104", "番号案内", CallType.DIRECTORY_ASSISTANCE, False, False, "180"),
        (a, (2026, 10, 10, 10, 0, 0, 0), 0, 1, "09098765432", "", CallType.SMS, False, False, "3"),
        (a, (2026, 10, 11, 10, 0, 0, 0), 600, 1, "+14155550100", "アメリカ", CallType.ROAMING_OUTGOING, False, True,
         "70"),
        (a, (2026, 10, 12, 10, 0, 0, 0), 600, 1, "+14155550100", "アメリカ", CallType.ROAMING_INCOMING, False, True,
         "45"),
        (a, (2026, 10, 13, 10, 0, 0, 0), 50, 1, "05012345678", "=1+2", CallType.IP, True, False, None),
        (b, (2026, 10, 14, 10, 0, 0, 0), 99, 1, "0612345678", "𠮷田町😀①,\"大阪\"", CallType.DOMESTIC, False, False,
         "0"),
        # Started on 30 September JST, ended in October: billed in October (K-4).
        (b, (2026, 9, 30, 23, 58, 0, 0), 3000, 1, "0312345678", "東京", CallType.DOMESTIC, False, False, "120"),
        # The Global line: charges in US dollars.
        (g, (2026, 10, 15, 10, 0, 0, 0), 400, 1, "0312345678", "東京", CallType.DOMESTIC, False, False, "0.4"),
        (g, (2026, 10, 16, 10, 0, 0, 0), 0, 1, "09098765432", "", CallType.SMS, False, False, "0.03"),
        (g, (2026, 10, 17, 10, 0, 0, 0), 300, 1, "+14155550100", "アメリカ", CallType.ROAMING_OUTGOING, False, True,
         "0.7"),
    ]
    for i, (line, start, ds, units, dest, area, ctype, internal, exempt, charge) in enumerate(calls):
        CallRecord.objects.create(
            tenant=tenant, line=line, msisdn=line.msisdn, started_at=dt.datetime(*start, tzinfo=JST), duration_ds=ds,
            units=units, billing_month=OCTOBER, destination_number=dest, destination_area=area, call_type=ctype,
            is_internal=internal, tax_exempt=exempt, charge=None if charge is None else Decimal(charge),
            record_id=f"{public_id}-{i}", source_file=source)
    # The rollups the pages read (issue 10 §4), from the charges given here.
    rerate_calls(line_ids=[a.pk, b.pk, g.pk], keep_charges=True, include_closed=True)

    # --- daily data usage --------------------------------------------------------------------------------------
    data_file = UsageFile.objects.create(kind="data", name=f"data-{public_id}.csv",
                                         sha256=f"d{public_id:0>63}"[-64:])
    for k in range(7):
        day = dt.date(2026, 11, 24) - dt.timedelta(days=k)
        DataUsageDaily.objects.create(tenant=tenant, line=a, msisdn=a.msisdn or "", day=day,
                                      bytes_used=1_000_000 * (k + 1), source_file=data_file)
    # The day before yesterday's neighbour (11-25) is not in the file of 11-26 (M-DL-5 ①).
    DataUsageDaily.objects.create(tenant=tenant, line=a, msisdn=a.msisdn or "", day=dt.date(2026, 11, 25),
                                  bytes_used=999, source_file=data_file)
    for day in (dt.date(2026, 10, 1), dt.date(2026, 10, 31)):
        DataUsageDaily.objects.create(tenant=tenant, line=a, msisdn=a.msisdn or "", day=day,
                                      bytes_used=5_000_000_000, source_file=data_file)
        DataUsageDaily.objects.create(tenant=tenant, line=b, msisdn=b.msisdn or "", day=day,
                                      bytes_used=123, source_file=data_file)
    DataUsageDaily.objects.create(tenant=tenant, line=b, msisdn=b.msisdn or "", day=dt.date(2026, 11, 20),
                                  bytes_used=42, source_file=data_file)
    return world
