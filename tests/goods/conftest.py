"""Shared fixtures of the goods tests (issue 12): the starting catalogue and a payment method."""

from __future__ import annotations

from typing import Any

import pytest

from kaisen.carriers.models import Carrier
from kaisen.goods.setup import catalogue_ensure
from kaisen.payments import services as payments
from kaisen.payments.models import PaymentSetting
from tests.factories import PlanFactory


@pytest.fixture
def catalogue(db: None) -> None:
    PlanFactory(code="DOCOMO-3G", carrier=Carrier.DOCOMO, monthly_fee=980)
    PlanFactory(code="SB-1G", carrier=Carrier.SOFTBANK, monthly_fee=700)
    catalogue_ensure()


def card(user: Any, number: str = "4242424242424242", coverage: str = "japan") -> None:
    payments.card_register(user=user, coverage=coverage, number=number, exp_month=12, exp_year=2035, cvc="123")


def invoice_method(tenant: Any, coverage: str = "japan") -> PaymentSetting:
    setting, _ = PaymentSetting.objects.update_or_create(
        tenant=tenant, coverage=coverage, defaults={"method": "invoice", "invoice_approved": True})
    return setting


ADDRESS = {"recipient": "山田 太郎", "postal_code": "100-0001", "address": "東京都千代田区千代田1-1"}
SIM = "SIM-DOCOMO-DATA-NANO"
