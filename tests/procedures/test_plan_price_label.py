"""The plan-change form offers each plan at its price in force (issue 14): a Global plan billed in USD (a
``billing.PlanTariff`` version) showed "0円" from ``Plan.monthly_fee``; billing now hands procedures the label
(``kaisen.procedures.prices``) without procedures importing billing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import Client

from kaisen.billing.models import PlanTariff
from kaisen.core import clock
from kaisen.procedures.forms import PlanChangeForm
from kaisen.procedures.prices import plan_price_label
from tests.conftest import TenantWorld
from tests.factories import PlanFactory
from tests.procedures.procedure_kit import make_line

pytestmark = pytest.mark.django_db


def test_global_plan_shows_its_usd_fee_in_force_not_zero_yen_issue_14() -> None:
    today = clock.today_jst()
    g = PlanFactory(code="G-TEST", coverage="global", monthly_fee=0)
    PlanTariff.objects.create(plan=g, usd_monthly_fee=D("12.00"), valid_from=today - dt.timedelta(days=400))
    PlanTariff.objects.create(plan=g, usd_monthly_fee=D("13.5"), valid_from=today + dt.timedelta(days=30))
    label = PlanChangeForm.plan_label(g)
    assert "US$12.00" in label  # the version in force today, not the future one
    assert "13.50" not in label and "0円" not in label and "¥0" not in label
    assert plan_price_label(g, today + dt.timedelta(days=31)) == "US$13.50"


def test_global_plan_without_a_usd_version_shows_no_price_issue_14() -> None:
    g = PlanFactory(code="G-NOFEE", coverage="global", monthly_fee=0)
    assert plan_price_label(g, clock.today_jst()) is None
    label = PlanChangeForm.plan_label(g)
    assert "0円" not in label and "¥0" not in label and "US$" not in label


def test_japan_plan_shows_its_yen_fee_version_or_catalogue_fee_issue_14() -> None:
    today = clock.today_jst()
    j = PlanFactory(code="J-TEST", coverage="japan", monthly_fee=980)
    assert plan_price_label(j, today) in ("¥980", "980円")  # no version: the catalogue fee
    PlanTariff.objects.create(plan=j, jpy_monthly_fee=1_200, valid_from=today - dt.timedelta(days=1))
    assert plan_price_label(j, today) in ("¥1,200", "1,200円")


def test_plan_change_page_offers_the_global_plan_in_usd_issue_14(tenant_a: TenantWorld) -> None:
    tenant = tenant_a.tenant
    tenant.coverage_global = True
    tenant.save(update_fields=["coverage_global"])
    g = PlanFactory(code="DOCOMO-GLOBAL", coverage="global", monthly_fee=0)
    PlanTariff.objects.create(plan=g, usd_monthly_fee=D("12.00"), valid_from=clock.today_jst())
    line = make_line(tenant_a)
    client = Client()
    client.force_login(tenant_a.user)
    page = client.get(f"/procedures/line/{line.pk}/plan_change/")
    assert page.status_code == 200
    option = next(part for part in page.content.decode().split("<option") if "DOCOMO-GLOBAL" in part)
    assert "US$12.00" in option and "0円" not in option and "¥0" not in option
