"""The default tariff catalogue and the cost types of the invoice detail (issue 4 §2; M-DL-1, M-DL-2, K-4).

The rates below are the catalogue a fresh installation starts with (seeded by migration
``billing.0003_default_tariffs``, valid from 2000-01-01 since ``billing.0005_tariff_versions``); the operator
changes them by adding versions valid from a later date (``kaisen.billing.versions``, the back office
``/admin/billing/``, ``kaisen billing tariffs set``).
They are plausible MVNO list prices, not any real carrier's: the seeds name the cost types but give no
prices. Japan rates are yen, tax excluded; Global rates are US dollars (S-COV-1).

Cost types (``InvoiceItem.cost_type`` → printed ``label``):

=========================  ==========================  ==========  =============================
code                       label (as printed)          voice?      tax class
=========================  ==========================  ==========  =============================
base_fee                   月額基本料金                 no          外税10%
universal_service          ﾕﾆﾊﾞｰｻﾙｻｰﾋﾞｽ料金            no          外税10%
option_fee                 付加機能使用料               yes         外税10%
data_overage               データ通信超過料金           no          外税10%
voice_* / sms*             per ``CallRate.label``      yes         外税10% or 非課税 (international,
                                                                   roaming, international SMS)
extra fees (payments)      as the payments app names   no          as the payments app says
=========================  ==========================  ==========  =============================

The invoice detail (M-DL-1) prints the voice items of a number summed per tax class as
``音声課税対象料金`` / ``音声非課税対象料金``; the voice charge detail (M-DL-2) prints them one by one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kaisen.billing.models import ChargeCategory as C

BASE_FEE = ("base_fee", "月額基本料金")
UNIVERSAL_SERVICE = ("universal_service", "ﾕﾆﾊﾞｰｻﾙｻｰﾋﾞｽ料金")
OPTION_FEE = ("option_fee", "付加機能使用料")
DATA_OVERAGE = ("data_overage", "データ通信超過料金")
VOICE_TAXABLE_LABEL = "音声課税対象料金"
VOICE_EXEMPT_LABEL = "音声非課税対象料金"

D = Decimal

#: (call_type, unit_seconds, Japan rate ¥, Global rate $, cost_type, label, category, flat-rate covered)
CALL_RATES: list[tuple[str, int, Decimal, Decimal, str, str, str, bool]] = [
    # 117 / 171 are ordinary domestic calls (M-DL-3 ⑤: Xi通話料).
    ("domestic", 30, D("20"), D("0.20"), "voice_xi", "Xi通話料", C.DOMESTIC, True),
    ("mobile", 30, D("20"), D("0.20"), "voice_other_mobile", "他社通話料", C.MOBILE_OTHER, True),
    ("mobile_au", 30, D("20"), D("0.20"), "voice_au", "他社通話料(au)", C.MOBILE_AU, True),
    ("ip", 30, D("10"), D("0.10"), "voice_ip", "IP電話通話料", C.DOMESTIC, False),
    # 188 / 189 / 0570: 他社接続サービス通信料 (M-DL-2 ③, M-DL-3 ⑤); never covered by flat-rate calling.
    ("other_carrier", 30, D("20"), D("0.20"), "voice_other_carrier_service", "他社接続サービス通信料",
     C.DOMESTIC, False),
    ("directory", 0, D("60"), D("0.60"), "voice_directory", "番号案内料", C.DOMESTIC, False),
    ("international", 30, D("30"), D("0.30"), "voice_international", "国際通話料", C.INTERNATIONAL, False),
    ("roaming_out", 30, D("70"), D("0.70"), "voice_roaming_out", "国際ローミング通話料(発信)", C.INTERNATIONAL, False),
    ("roaming_in", 30, D("45"), D("0.45"), "voice_roaming_in", "国際ローミング通話料(着信)", C.INTERNATIONAL, False),
    ("sms", 0, D("3"), D("0.03"), "sms", "SMS送信料", C.SMS, False),
    ("sms_international", 0, D("100"), D("1.00"), "sms_international", "国際SMS送信料", C.SMS, False),
]

#: (coverage, code, amount, unit_mb) — account-wide defaults; per-plan rows override them.
FEE_RATES: list[tuple[str, str, Decimal, int]] = [
    ("japan", "universal_service", D("2"), 0),
    ("japan", "voicemail", D("300"), 0),
    ("japan", "call_waiting", D("200"), 0),
    ("japan", "flat_rate_calling", D("1500"), 0),
    ("japan", "data_overage", D("550"), 1024),
    ("global", "voicemail", D("3.00"), 0),
    ("global", "call_waiting", D("2.00"), 0),
    ("global", "flat_rate_calling", D("15.00"), 0),
    ("global", "data_overage", D("0.08"), 1),
]


def seed_default_tariffs(call_rate_model: Any, fee_rate_model: Any) -> int:
    """Create the default rows that do not exist yet (the models are passed so a migration can use its
    historical models). Returns how many rows were created; existing rows (the operator's prices) stay."""
    created = 0
    for call_type, unit, jp, us, cost_type, label, category, flat in CALL_RATES:
        for coverage, rate in (("japan", jp), ("global", us)):
            _, made = call_rate_model.objects.get_or_create(
                coverage=coverage, call_type=call_type,
                defaults=dict(unit_seconds=unit, rate=rate, cost_type=cost_type, label=label, category=category,
                              flat_rate_covered=flat))
            created += int(made)
    for coverage, code, amount, unit_mb in FEE_RATES:
        _, made = fee_rate_model.objects.get_or_create(coverage=coverage, code=code, plan=None,
                                                       defaults=dict(amount=amount, unit_mb=unit_mb))
        created += int(made)
    return created
