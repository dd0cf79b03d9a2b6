"""The demo's account pages (issue 5 §7): each demo tenant's contract summary (K-1: start date, channels,
connection type, DNS, the services of the seed's self page with applied / not applied), its base number and
extra dial-in numbers linked to voice lines (K-2), and the contract holder's address (S-ACC-3).

Runs at the end of ``kaisen.demo.demo_create``; ``demo_account_delete`` runs in ``demo_delete`` before the lines
go (dial-in numbers and transfers reference them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from kaisen.lines.models import Line, SimType
from kaisen.tenancy.models import ConnectionType, ContractService, DialInNumber, SimTransfer, Tenant

#: The services of the seed's self page (seed 002, K-1), in its order.
SERVICES = ["ダイヤルイン", "auケータイ着信割引(月額料型)", "番号通知リクエスト", "着信拒否サービス",
            "特定番号通知サービス", "フリーコール(選択)番号通知サービス", "一括転送サービス"]

#: Per demo tenant: the contract facts the operator keeps, and which services are applied.
PLAN: dict[str, dict[str, Any]] = {
    "OP0123456789": {"started": dt.date(2019, 4, 1), "base": "0355550100", "channels": 4, "dial_in": 12,
                     "dial_prefix": "035555", "applied": {"ダイヤルイン", "フリーコール(選択)番号通知サービス"},
                     "postal_code": "105-0011", "address": "東京都港区芝公園4-2-8 みなとビル5階"},
    "OP2048163264": {"started": dt.date(2021, 7, 15), "base": "0665550200", "channels": 2, "dial_in": 5,
                     "dial_prefix": "066555", "applied": {"ダイヤルイン"},
                     "postal_code": "530-0001", "address": "大阪府大阪市北区梅田3-1-1"},
    "OP5120003387": {"started": dt.date(2023, 10, 1), "base": "", "channels": 1, "dial_in": 0,
                     "dial_prefix": "011555", "applied": set(),
                     "postal_code": "060-0001", "address": "北海道札幌市中央区北一条西2-1"},
    "OP3141592653": {"started": dt.date(2024, 4, 1), "base": "", "channels": 1, "dial_in": 0,
                     "dial_prefix": "065555", "applied": set(),
                     "postal_code": "530-0011", "address": "大阪府大阪市北区大深町4-20 グランフロント南館"},
}


def demo_account_create(*, tenants: Sequence[Tenant]) -> None:
    for tenant in tenants:
        plan = PLAN.get(tenant.public_id)
        if plan is None:
            continue
        tenant.contract_started_on, tenant.base_number = plan["started"], plan["base"]
        tenant.channels = plan["channels"]
        tenant.connection_type = ConnectionType.DIAL_IN
        tenant.dns_primary, tenant.dns_secondary = "203.0.113.53", "203.0.113.54"  # documentation range (RFC 5737)
        tenant.postal_code, tenant.address = plan["postal_code"], plan["address"]
        tenant.save()
        notified = "フリーコール(選択)番号通知サービス"
        ContractService.objects.bulk_create([
            ContractService(tenant=tenant, name=name, applied=name in plan["applied"], position=i,
                            detail=plan["base"] if name == notified and name in plan["applied"] else "")
            for i, name in enumerate(SERVICES, start=1)
        ])
        voice = (Line.objects.filter(tenant=tenant, sim_type=SimType.VOICE, status="active", msisdn__isnull=False)
                 .order_by("msisdn", "id")[:plan["dial_in"]])
        DialInNumber.objects.bulk_create([
            DialInNumber(tenant=tenant, number=f"{plan['dial_prefix']}{1000 + i:04d}", line=line,
                         started_on=line.started_on)
            for i, line in enumerate(voice)
        ])


def demo_account_delete(*, tenants: QuerySet[Tenant]) -> None:
    DialInNumber.objects.filter(tenant__in=tenants).delete()
    ContractService.objects.filter(tenant__in=tenants).delete()
    SimTransfer.objects.filter(from_tenant__in=tenants).delete()  # and their lines (cascade)
    SimTransfer.objects.filter(to_tenant__in=tenants).delete()
