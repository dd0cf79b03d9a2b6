"""Tariffs with validity (issue 10 §2) and rating with the tariff in force (issue 10 §3, tariff half), on SQLite
and PostgreSQL: a price change is a new version that never re-prices a month before it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest
import time_machine
from django.test import Client
from typer.testing import CliRunner

from kaisen.accounts.services import user_create
from kaisen.audit.models import AuditEvent
from kaisen.billing import versions
from kaisen.billing.close import close_month
from kaisen.billing.models import TARIFF_EPOCH, CallRate, LongTermRate, PlanTariff, TtsRate
from kaisen.billing.rating import rate_month
from kaisen.billing.services import long_term_discount_add
from kaisen.cli import app
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.usage.models import CallRecord
from tests.billing import kit

pytestmark = pytest.mark.django_db
FEB, MARCH, APRIL, MAY = dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)
NOW = dt.datetime(2026, 3, 10, 10, tzinfo=kit.JST)  # every test runs on this frozen day (any real date passes)
AFTER = dt.date(2026, 4, 20)


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _items(tenant, month, coverage="japan"):  # type: ignore[no-untyped-def]
    return kit.amounts(rate_month(tenant=tenant, coverage=coverage, month=month, rerate=True).invoice)


def _domestic(day: dt.date, coverage: str = "japan") -> CallRate:
    return versions.in_force(CallRate, day, coverage=coverage, call_type="domestic")


def test_a_price_change_next_month_leaves_this_and_last_month_alone() -> None:
    """Call rate, plan fee and option fee raised from April: February and March bill what they billed."""
    t = kit.tenant()
    p = kit.plan("TV-1", fee=1000)
    ln = kit.line(t, p, voice={"voicemail": True})
    kit.call(ln, start=kit.at(2026, 2, 20), seconds=60)
    kit.call(ln, start=kit.at(2026, 3, 5), seconds=60)
    kit.call(ln, start=kit.at(2026, 4, 5), seconds=60)
    before = {m: _items(t, m) for m in (FEB, MARCH)}
    assert before[MARCH][(ln.msisdn, "voice_xi")] == D(40)
    assert before[MARCH][(ln.msisdn, "base_fee")] == D(1000)
    versions.tariff_new_version(kind="call-rate", key={"coverage": "japan", "call_type": "domestic"},
                                valid_from=APRIL, values={"rate": "25"})
    versions.tariff_new_version(kind="plan-fee", key={"plan": p}, valid_from=APRIL, values={"jpy_monthly_fee": 1200})
    versions.tariff_new_version(kind="fee", key={"coverage": "japan", "code": "voicemail", "plan": None},
                                valid_from=APRIL, values={"amount": "330"})
    assert {m: _items(t, m) for m in (FEB, MARCH)} == before  # re-rated with --rerate: unchanged
    april = _items(t, APRIL)
    assert april[(ln.msisdn, "voice_xi")] == D(50)
    assert april[(ln.msisdn, "base_fee")] == D(1200)
    assert april[(ln.msisdn, "option_fee")] == D(330)
    # The old versions stay, the new ones are listed after them; the rest of the call rate was copied.
    old, new = CallRate.objects.filter(coverage="japan", call_type="domestic").order_by("valid_from")
    assert (old.valid_from, old.rate, new.valid_from, new.rate) == (TARIFF_EPOCH, D(20), APRIL, D(25))
    assert (new.label, new.unit_seconds, new.flat_rate_covered) == (old.label, old.unit_seconds, old.flat_rate_covered)
    assert list(PlanTariff.objects.filter(plan=p).order_by("valid_from")
                .values_list("valid_from", "jpy_monthly_fee")) == [(TARIFF_EPOCH, 1000), (APRIL, 1200)]
    assert AuditEvent.objects.filter(action="billing.tariff.version").count() == 3


def test_a_call_is_rated_with_the_rate_in_force_on_its_japan_time_start_date() -> None:
    """Boundary in Japan time: 23:59:50 on 31 March is the old rate, 00:00:10 on 1 April (still 31 March in UTC)
    the new one; a call spanning the month end is billed in April (K-4) at the rate of its start."""
    t = kit.tenant()
    ln = kit.line(t, kit.plan("TV-2"), voice={})
    versions.tariff_new_version(kind="call-rate", key={"coverage": "japan", "call_type": "domestic"},
                                valid_from=APRIL, values={"rate": "25"})
    last_old = kit.call(ln, start=kit.at(2026, 3, 31, 23, 59, 50), seconds=5)
    spanning = kit.call(ln, start=kit.at(2026, 3, 31, 23, 59, 50), seconds=20)
    first_new = kit.call(ln, start=dt.datetime(2026, 3, 31, 15, 0, 10, tzinfo=dt.UTC), seconds=5)
    assert (last_old.billing_month, spanning.billing_month, first_new.billing_month) == (MARCH, APRIL, APRIL)
    march = _items(t, MARCH)
    april = _items(t, APRIL)
    charges = {c.pk: c.charge for c in CallRecord.objects.filter(tenant=t)}
    assert (charges[last_old.pk], charges[spanning.pk], charges[first_new.pk]) == (D(20), D(20), D(25))
    assert march[(ln.msisdn, "voice_xi")] == D(20)
    assert april[(ln.msisdn, "voice_xi")] == D(45)  # one item per call type, whatever the versions


def test_a_new_label_of_a_call_type_prints_its_own_item() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("TV-3"), voice={})
    versions.tariff_new_version(kind="call-rate", key={"coverage": "japan", "call_type": "domestic"},
                                valid_from=dt.date(2026, 3, 15), values={"label": "国内通話料"})
    kit.call(ln, start=kit.at(2026, 3, 14), seconds=30)
    kit.call(ln, start=kit.at(2026, 3, 15), seconds=30)
    labels = sorted(i.label for i in rate_month(tenant=t, coverage="japan", month=MARCH).invoice.items
                    .filter(cost_type="voice_xi"))
    assert labels == ["Xi通話料", "国内通話料"]


def test_monthly_fees_use_the_version_in_force_on_the_first_of_the_month() -> None:
    """A plan fee valid from 15 April bills from May; one valid from 1 May also; the fee and the universal
    service fee of the same month follow the same rule."""
    t = kit.tenant()
    p = kit.plan("TV-4", fee=1000)
    ln = kit.line(t, p)
    versions.tariff_new_version(kind="plan-fee", key={"plan": p}, valid_from=dt.date(2026, 4, 15),
                                values={"jpy_monthly_fee": 1100})
    versions.tariff_new_version(kind="fee", key={"coverage": "japan", "code": "universal_service", "plan": None},
                                valid_from=MAY, values={"amount": "3"})
    versions.tariff_new_version(kind="plan-fee", key={"plan": p}, valid_from=dt.date(2026, 6, 1),
                                values={"jpy_monthly_fee": 1300})
    fees = {m: _items(t, m) for m in (APRIL, MAY, dt.date(2026, 6, 1))}
    assert [fees[m][(ln.msisdn, "base_fee")] for m in fees] == [D(1000), D(1100), D(1300)]
    assert [fees[m][(ln.msisdn, "universal_service")] for m in fees] == [D(2), D(3), D(3)]


def test_global_plan_fee_and_flat_rate_inclusion_are_versioned() -> None:
    t = kit.tenant(coverage_global=True)
    g = kit.plan("TV-G", coverage="global")
    PlanTariff.objects.create(plan=g, usd_monthly_fee=D("12.00"))
    gl = kit.line(t, g)
    versions.tariff_new_version(kind="plan-fee", key={"plan": g}, valid_from=APRIL, values={"usd_monthly_fee": "13.5"})
    assert _items(t, MARCH, "global")[(gl.msisdn, "base_fee")] == D("12.00")
    assert _items(t, APRIL, "global")[(gl.msisdn, "base_fee")] == D("13.50")
    with pytest.raises(DomainError) as exc:
        versions.tariff_new_version(kind="plan-fee", key={"plan": g}, valid_from=MAY,
                                    values={"usd_monthly_fee": None})
    assert exc.value.code == ErrorCode.VALIDATION_ERROR
    # Flat-rate calling included from April: a domestic call of 31 March is charged, one of 1 April free.
    p = kit.plan("TV-5", fee=3000)
    ln = kit.line(t, p, voice={})
    versions.tariff_new_version(kind="plan-fee", key={"plan": p}, valid_from=APRIL,
                                values={"includes_flat_rate_calling": True})
    kit.call(ln, start=kit.at(2026, 3, 31, 23, 0), seconds=30)
    kit.call(ln, start=kit.at(2026, 4, 1, 1, 0), seconds=30)
    assert _items(t, MARCH)[(ln.msisdn, "voice_xi")] == D(20)
    assert (ln.msisdn, "voice_xi") not in _items(t, APRIL)
    assert _items(t, APRIL)[(ln.msisdn, "base_fee")] == D(3000)  # the fee was copied from the first version


def test_long_term_rate_versions() -> None:
    """S-BILL-4: a committed term bills its plan and term's long-term rate in force for each month."""
    t = kit.tenant()
    p = kit.plan("TV-6", fee=1000)
    LongTermRate.objects.create(plan=p, term_months=12, monthly_fee=800)
    ln = kit.line(t, p)
    long_term_discount_add(tenant=t, msisdn=ln.msisdn, term_months=12, first_month=APRIL)
    versions.tariff_new_version(kind="long-term", key={"plan": p, "term_months": 12}, valid_from=MAY,
                                values={"monthly_fee": 750})
    assert [_items(t, m)[(ln.msisdn, "base_fee")] for m in (MARCH, APRIL, MAY)] == [D(1000), D(800), D(750)]
    # A later commitment names the same plan and term (through the newest version).
    other = kit.line(t, p)
    d = long_term_discount_add(tenant=t, msisdn=other.msisdn, term_months=12, first_month=APRIL)
    assert d.rate.monthly_fee == 750
    assert _items(t, APRIL)[(other.msisdn, "base_fee")] == D(800)
    g = kit.plan("TV-6G", coverage="global")
    with pytest.raises(DomainError) as exc:
        versions.tariff_new_version(kind="long-term", key={"plan": g, "term_months": 12}, valid_from=MAY,
                                    values={"monthly_fee": 5})
    assert exc.value.code == ErrorCode.VALIDATION_ERROR


def _close_march() -> None:
    t = kit.tenant()
    kit.line(t, kit.plan("TV-C", fee=1000))
    close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)


def test_service_refuses_a_version_in_a_closed_month_and_editing_a_version_it_used() -> None:
    _close_march()
    assert versions.closed_horizon("japan") == dt.date(2026, 3, 31)
    assert versions.closed_horizon("global") is None
    key = {"coverage": "japan", "call_type": "domestic"}
    for day in (dt.date(2026, 3, 15), MARCH, dt.date(2025, 1, 1)):
        with pytest.raises(DomainError) as exc:
            versions.tariff_new_version(kind="call-rate", key=key, valid_from=day, values={"rate": "25"})
        assert exc.value.code == ErrorCode.INVOICE_CLOSED and exc.value.field == "valid_from"
    old = _domestic(MARCH)
    old.rate = D(30)
    with pytest.raises(DomainError) as exc:
        versions.tariff_version_save(obj=old)
    assert exc.value.code == ErrorCode.INVOICE_CLOSED
    with pytest.raises(DomainError):
        versions.check_delete(old)
    assert _domestic(MARCH).rate == D(20)
    # April is open: a new version, then a correction of it (no closed month used it), then its deletion.
    new = versions.tariff_new_version(kind="call-rate", key=key, valid_from=APRIL, values={"rate": "25"})
    again = versions.tariff_new_version(kind="call-rate", key=key, valid_from=APRIL, values={"rate": "24"})
    assert again.pk == new.pk and _domestic(APRIL).rate == D(24)
    versions.check_delete(again)
    # Global prices are not frozen by a closed Japan month.
    versions.tariff_new_version(kind="call-rate", key={"coverage": "global", "call_type": "domestic"},
                                valid_from=MARCH, values={"rate": "0.25"})
    assert _domestic(MARCH, "global").rate == D("0.25")


def test_bad_input_is_refused_with_a_domain_error() -> None:
    cases = [
        ("nope", {}, {}, ErrorCode.VALIDATION_ERROR),
        ("call-rate", {"coverage": "japan"}, {"rate": "1"}, ErrorCode.VALIDATION_ERROR),
        ("call-rate", {"coverage": "mars", "call_type": "domestic"}, {"rate": "1"}, ErrorCode.VALIDATION_ERROR),
        ("call-rate", {"coverage": "japan", "call_type": "domestic"}, {"rate": "abc"}, ErrorCode.VALIDATION_ERROR),
        ("call-rate", {"coverage": "japan", "call_type": "domestic"}, {"rate": "-1"}, ErrorCode.VALIDATION_ERROR),
        ("call-rate", {"coverage": "japan", "call_type": "video"}, {"rate": "1"}, ErrorCode.VALIDATION_ERROR),
        ("call-rate", {"coverage": "japan", "call_type": "domestic"}, {"amount": "1"}, ErrorCode.VALIDATION_ERROR),
        ("fee", {"coverage": "japan", "code": "voicemail"}, {"amount": "NaN"}, ErrorCode.VALIDATION_ERROR),
        ("plan-fee", {}, {"jpy_monthly_fee": 1}, ErrorCode.VALIDATION_ERROR),
    ]
    for kind, key, values, code in cases:
        with pytest.raises(DomainError) as exc:
            versions.tariff_new_version(kind=kind, key=key, valid_from=APRIL, values=values)
        assert exc.value.code == code, (kind, key, values)
    assert CallRate.objects.filter(valid_from=APRIL).count() == 0


@pytest.fixture
def staff_client() -> Client:
    staff = user_create(tenant=None, username="tv_staff", password="Staff-password-2026", is_staff=True,
                        is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client


def test_back_office_lists_versions_and_adds_a_new_one(staff_client: Client) -> None:
    versions.tariff_new_version(kind="call-rate", key={"coverage": "japan", "call_type": "domestic"},
                                valid_from=APRIL, values={"rate": "25"})
    page = staff_client.get("/admin/billing/callrate/?call_type=domestic&coverage__exact=japan")
    assert page.status_code == 200
    html = page.content.decode()
    assert "2000年1月1日" in html or "Jan. 1, 2000" in html
    assert "2026年4月1日" in html or "April 1, 2026" in html
    assert "in force" in html or "適用中" in html
    assert "scheduled" in html or "予定" in html
    for url in ("/admin/billing/feerate/", "/admin/billing/plantariff/", "/admin/billing/longtermrate/"):
        assert staff_client.get(url).status_code == 200
    p = kit.plan("TV-A", fee=500)
    add = staff_client.post("/admin/billing/plantariff/add/", {"plan": p.pk, "valid_from": "2026-05-01",
                                                               "jpy_monthly_fee": "550"})
    assert add.status_code == 302, add.content.decode()[:2000]
    assert PlanTariff.objects.get(plan=p, valid_from=MAY).jpy_monthly_fee == 550
    assert AuditEvent.objects.filter(action="admin.plantariff.create").exists()
    missing = staff_client.post("/admin/billing/plantariff/add/", {"plan": p.pk, "valid_from": "2026-06-01"})
    assert missing.status_code == 200 and not PlanTariff.objects.filter(plan=p, valid_from=dt.date(2026, 6, 1))


def test_back_office_refuses_changes_that_would_reprice_a_closed_month(staff_client: Client) -> None:
    _close_march()
    old = _domestic(MARCH)
    change_url = f"/admin/billing/callrate/{old.pk}/change/"
    page = staff_client.get(change_url)
    html = page.content.decode()
    assert page.status_code == 200 and 'name="rate"' not in html  # read-only
    assert "/admin/billing/callrate/add/?" in html and "valid_from=2026-04-01" in html  # the new-version link
    staff_client.post(change_url, {"rate": "99", "valid_from": "2026-04-01"})
    old.refresh_from_db()
    assert (old.rate, old.valid_from) == (D(20), TARIFF_EPOCH)
    assert staff_client.post(f"/admin/billing/callrate/{old.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CallRate.objects.filter(pk=old.pk).exists()
    # Bulk delete skips it too.
    staff_client.post("/admin/billing/callrate/", {"action": "delete_selected", "_selected_action": [old.pk],
                                                   "post": "yes"})
    assert CallRate.objects.filter(pk=old.pk).exists()
    data = {"coverage": "japan", "call_type": "domestic", "unit_seconds": "30", "rate": "25", "cost_type": "voice_xi",
            "label": "Xi通話料", "category": "domestic", "flat_rate_covered": "on"}
    bad = staff_client.post("/admin/billing/callrate/add/", {**data, "valid_from": "2026-03-20"})
    assert bad.status_code == 200 and "2026-04-01" in bad.content.decode()
    assert not CallRate.objects.filter(valid_from=dt.date(2026, 3, 20)).exists()
    ok = staff_client.post("/admin/billing/callrate/add/", {**data, "valid_from": "2026-04-01"})
    assert ok.status_code == 302
    new = CallRate.objects.get(coverage="japan", call_type="domestic", valid_from=APRIL)
    # A version valid after the closed month can still be corrected.
    fix = staff_client.post(f"/admin/billing/callrate/{new.pk}/change/", {**data, "rate": "24",
                                                                           "valid_from": "2026-04-01"})
    assert fix.status_code == 302
    new.refresh_from_db()
    assert new.rate == D(24)
    moved = staff_client.post(f"/admin/billing/callrate/{new.pk}/change/", {**data, "valid_from": "2026-03-31"})
    assert moved.status_code == 200
    new.refresh_from_db()
    assert new.valid_from == APRIL


def test_back_office_keeps_the_tts_rate_of_a_closed_global_month(staff_client: Client) -> None:
    t = kit.tenant(coverage_global=True)
    g = kit.plan("TV-TG", coverage="global")
    PlanTariff.objects.create(plan=g, usd_monthly_fee=D("10"))
    kit.line(t, g)
    rate = TtsRate.objects.create(month=MARCH, jpy_per_usd=D("150"))
    close_month(tenant=t, coverage="global", month=MARCH, today=AFTER)
    res = staff_client.post(f"/admin/billing/ttsrate/{rate.pk}/change/", {"month": "2026-03-01",
                                                                         "jpy_per_usd": "151"})
    assert res.status_code == 200
    rate.refresh_from_db()
    assert rate.jpy_per_usd == D("150")
    assert staff_client.post(f"/admin/billing/ttsrate/{rate.pk}/delete/", {"post": "yes"}).status_code == 403
    open_month = staff_client.post("/admin/billing/ttsrate/add/", {"month": "2026-04-01", "jpy_per_usd": "151"})
    assert open_month.status_code == 302


def test_cli_sets_and_lists_versions() -> None:
    runner = CliRunner()
    kit.plan("TV-CLI", fee=800)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["admin", "billing", "tariffs", *args], catch_exceptions=False)

    res = run("set", "plan-fee", "--plan", "TV-CLI", "--jpy", "880", "--from", "2026-04-01")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)
    assert (row["plan"], row["valid_from"], row["jpy_monthly_fee"], row["status"]) == ("TV-CLI", "2026-04-01", 880,
                                                                                       "scheduled")
    res = run("set", "call-rate", "--coverage", "japan", "--call-type", "sms", "--rate", "4", "--from", "2026-04-01")
    assert res.exit_code == 0 and json.loads(res.stdout)["rate"] == "4.0000"
    listed = json.loads(run("list", "--kind", "plan-fee").stdout)
    assert [(r["valid_from"], r["jpy_monthly_fee"], r["status"]) for r in listed if r["plan"] == "TV-CLI"] == [
        ("2026-04-01", 880, "scheduled"), ("2000-01-01", 800, "in force")]
    catalogue = json.loads(run().stdout)
    assert next(x for x in catalogue["plans"] if x["code"] == "TV-CLI")["monthly_fee_jpy"] == 800
    sms = next(x for x in catalogue["calls"] if x["call_type"] == "sms" and x["coverage"] == "japan")
    assert sms["rate"] == "3.0000"  # the version in force today
    _close_march()
    res = run("set", "fee", "--coverage", "japan", "--code", "voicemail", "--amount", "1", "--from", "2026-03-31")
    assert res.exit_code == 1 and "INVOICE_CLOSED" in res.stderr
    res = run("set", "plan-fee", "--plan", "NOPE", "--jpy", "1", "--from", "2026-04-01")
    assert res.exit_code == 1 and "NOT_FOUND" in res.stderr
    res = run("set", "fee", "--coverage", "japan", "--code", "voicemail", "--amount", "1", "--from", "2026-13-01")
    assert res.exit_code == 1


def test_a_fee_version_that_took_effect_updates_the_plan_catalogue_price() -> None:
    p = kit.plan("TV-S", fee=1000)
    versions.tariff_new_version(kind="plan-fee", key={"plan": p}, valid_from=dt.date(2026, 3, 10),
                                values={"jpy_monthly_fee": 1050})
    p.refresh_from_db()
    assert p.monthly_fee == 1050  # in force today
    versions.tariff_new_version(kind="plan-fee", key={"plan": p}, valid_from=APRIL, values={"jpy_monthly_fee": 1100})
    p.refresh_from_db()
    assert p.monthly_fee == 1050  # scheduled: not yet
    assert versions.plan_catalogue_sync(today=APRIL) == 1
    p.refresh_from_db()
    assert p.monthly_fee == 1100
