"""Migration ``billing.0005_tariff_versions`` (issue 10 §2): every price that existed becomes one version valid
from 2000-01-01 and every Japan plan's catalogue fee a plan fee version, so existing bills rate identically."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("billing", "0004_combined_billing")]
AFTER = [("billing", "0005_tariff_versions")]


@pytest.mark.django_db(transaction=True)
def test_existing_prices_become_versions_valid_from_2000() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    plan = old.get_model("lines", "Plan")
    tariff = old.get_model("billing", "PlanTariff")
    common = {"carrier": "docomo", "data_allowance_mb": 1024}
    plain = plan.objects.create(code="MIG-J1", name="j1", name_en="j1", coverage="japan", monthly_fee=1000, **common)
    flat = plan.objects.create(code="MIG-J2", name="j2", name_en="j2", coverage="japan", monthly_fee=3300, **common)
    glob = plan.objects.create(code="MIG-G", name="g", name_en="g", coverage="global", monthly_fee=0, **common)
    tariff.objects.create(plan=flat, includes_flat_rate_calling=True)
    tariff.objects.create(plan=glob, usd_monthly_fee=D("12.00"))
    # Rows of our own: the seeded catalogue may already be gone (a transactional test before this one flushed it).
    old.get_model("billing", "CallRate").objects.create(
        coverage="japan", call_type="mig_test", unit_seconds=30, rate=D("20"), cost_type="MIG", label="mig",
        category="domestic")
    old.get_model("billing", "FeeRate").objects.create(coverage="japan", code="voicemail", plan=plain, amount=D("300"))
    calls_before = old.get_model("billing", "CallRate").objects.count()

    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        versions = new.get_model("billing", "PlanTariff").objects
        epoch = dt.date(2000, 1, 1)
        rows = {v.plan_id: (v.valid_from, v.jpy_monthly_fee, v.usd_monthly_fee, v.includes_flat_rate_calling)
                for v in versions.filter(plan_id__in=[plain.pk, flat.pk, glob.pk])}
        assert rows == {plain.pk: (epoch, 1000, None, False), flat.pk: (epoch, 3300, None, True),
                        glob.pk: (epoch, None, D("12.0000"), False)}
        call_rates = new.get_model("billing", "CallRate").objects
        assert call_rates.count() == calls_before > 0
        assert set(call_rates.values_list("valid_from", flat=True)) == {epoch}
        assert set(new.get_model("billing", "FeeRate").objects.values_list("valid_from", flat=True)) == {epoch}
    finally:
        # Every app at its latest migration again: later tests need the schema of today (billing 0008 adds
        # a column to invoice items, 0009 a table).
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
