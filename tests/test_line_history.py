"""Line history (issue 10 §1): every change of a line's plan, status, options, data cap, SIM or tenant is kept
as an effective-dated interval, written with the change by every path; "the line as of" a moment; the
status page, the API and the CLI show it; the migration opens the history of existing lines."""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import types
from typing import Any

import pytest
import time_machine
from django.contrib import admin
from django.db import IntegrityError, connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse

from kaisen.account import services as tenancy_services
from kaisen.carriers.models import Carrier, Coverage
from kaisen.core import clock
from kaisen.lines.admin import LineAdmin, LineAdminForm
from kaisen.lines.history import line_history_open_missing, line_record_change, start_of_day_jst
from kaisen.lines.models import Line, LinePeriod, LinePeriodReason, LineStatus, SimSize, SimType
from kaisen.lines.selectors import line_as_of, line_history, line_periods_overlapping
from kaisen.lines.services import line_register
from kaisen.procedures.models import OrderStatus
from tests.conftest import TenantWorld
from tests.factories import LineFactory, PlanFactory, UserFactory, make_iccid
from tests.procedures.procedure_kit import complete, jst, make_line, submit

pytestmark = pytest.mark.django_db
NOON = jst(2026, 11, 24, 12, 0)  # a Tuesday, a business day, inside reception hours


def periods(line: Line) -> list[LinePeriod]:
    return list(LinePeriod.objects.filter(line=line).select_related("plan").order_by("valid_from"))


def assert_contiguous(line: Line) -> None:
    """The intervals of a line follow each other without gap or overlap, and only the last is open."""
    ps = periods(line)
    assert ps, "the line has no history"
    for before, after in itertools.pairwise(ps):
        assert before.valid_to == after.valid_from
    assert ps[-1].valid_to is None


# --- writing --------------------------------------------------------------------------------------

@time_machine.travel(NOON, tick=False)
def test_line_register_opens_the_history_at_the_start_date_jst(tenant_a: TenantWorld) -> None:
    plan = PlanFactory(coverage=Coverage.JAPAN)
    line = line_register(tenant=tenant_a.tenant, iccid=make_iccid(555_001), plan=plan, sim_type=SimType.DATA,
                         sim_size=SimSize.NANO, msisdn="09011112222", status=LineStatus.ACTIVE,
                         started_on=dt.date(2026, 3, 5))
    (p,) = periods(line)
    assert p.valid_from == jst(2026, 3, 5, 0, 0) and p.valid_to is None
    assert (p.tenant_id, p.plan_id, p.coverage, p.status, p.iccid, p.msisdn, p.reason) == (
        tenant_a.tenant.pk, plan.pk, Coverage.JAPAN, LineStatus.ACTIVE, line.iccid, "09011112222",
        LinePeriodReason.REGISTERED)
    unstarted = line_register(tenant=tenant_a.tenant, iccid=make_iccid(555_002), plan=plan, sim_type=SimType.DATA,
                              sim_size=SimSize.NANO)
    assert periods(unstarted)[0].valid_from == NOON  # no start date: from when it was registered


def test_plan_change_for_the_1st_starts_at_jst_midnight_even_when_applied_late_m_proc_3(
        tenant_a: TenantWorld) -> None:
    """The bug of issue 10: a change effective on the 1st must not reach back into the month being closed."""
    small = PlanFactory(code="HS-SMALL", data_allowance_mb=1024)
    large = PlanFactory(code="HS-LARGE", data_allowance_mb=10240, monthly_fee=2980)
    line = make_line(tenant_a, plan=large)
    with time_machine.travel(NOON, tick=False):
        order = submit(tenant_a, line, "plan_change", {"plan_code": small.code})
    assert order.due_at == jst(2026, 12, 1, 0, 0)
    with time_machine.travel(jst(2026, 12, 2, 9, 17), tick=False):  # the engine was late by a day
        assert complete(order).status == OrderStatus.COMPLETED
    old, new = periods(line)
    assert old.plan_id == large.pk and old.valid_to == jst(2026, 12, 1, 0, 0)
    assert new.plan_id == small.pk and new.valid_from == jst(2026, 12, 1, 0, 0) and new.valid_to is None
    assert new.reason == LinePeriodReason.ORDER and new.order_id == order.pk
    # As of the last instant of November the line had the large plan; from 00:00 JST on the 1st the small one.
    last_moment = jst(2026, 12, 1, 0, 0) - dt.timedelta(microseconds=1)
    as_of = line_as_of(tenant=tenant_a.tenant, line_id=line.pk, at=last_moment)
    assert as_of is not None and as_of.plan_id == large.pk
    as_of = line_as_of(tenant=tenant_a.tenant, line_id=line.pk, at=jst(2026, 12, 1, 0, 0))
    assert as_of is not None and as_of.plan_id == small.pk
    assert line_as_of(tenant=tenant_a.tenant, line_id=line.pk, at=jst(2025, 4, 2, 23, 59)) is None  # before start
    november = line_periods_overlapping(tenant=tenant_a.tenant, start=jst(2026, 11, 1, 0, 0),
                                        end=jst(2026, 12, 1, 0, 0))
    assert list(november.filter(line=line).values_list("plan_id", flat=True)) == [large.pk]


def test_suspend_resume_voice_options_data_cap_each_start_an_interval_m_proc_1_2_3(tenant_a: TenantWorld) -> None:
    capped = PlanFactory(code="HS-CAP", data_allowance_mb=5120, has_data_cap=True)
    line = make_line(tenant_a, sim_type=SimType.VOICE, plan=capped, data_cap_mb=300,
                     voice_options={"voicemail": False})
    steps = [("suspend", {}), ("resume", {}), ("voice_options", {"options": {"voicemail": True}}),
             ("plan_change", {"data_cap_mb": 1024})]
    with time_machine.travel(NOON, tick=False) as t:
        for kind, params in steps:
            t.shift(600)
            complete(submit(tenant_a, line, kind, params))
    ps = periods(line)
    # opening, suspended, resumed, voicemail on, cap raised: each from its order's due time (here: acceptance).
    assert [p.status for p in ps] == ["active", "suspended", "active", "active", "active"]
    assert [p.valid_from for p in ps[1:]] == [NOON + dt.timedelta(seconds=600 * i) for i in range(1, 5)]
    assert ps[-1].voice_options == {"voicemail": True} and ps[-2].voice_options == {"voicemail": True}
    assert ps[-3].voice_options == {"voicemail": False}
    assert ps[-2].data_cap_mb == 300 and ps[-1].data_cap_mb == 1024
    assert_contiguous(line)


@time_machine.travel(NOON, tick=False)
def test_a_change_in_the_same_moment_replaces_the_open_interval(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    complete(submit(tenant_a, line, "suspend"))
    complete(submit(tenant_a, line, "resume"))
    _opening, current = periods(line)  # the suspension of no duration left no interval behind
    assert current.valid_from == NOON and current.status == LineStatus.ACTIVE
    assert_contiguous(line)


@time_machine.travel(NOON, tick=False)
def test_changes_due_at_the_same_moment_make_one_interval(tenant_a: TenantWorld) -> None:
    """A plan change and a voice option change both for 00:00 on the 1st: one interval with both."""
    small = PlanFactory(code="V-SMALL", data_allowance_mb=1024)
    large = PlanFactory(code="V-LARGE", data_allowance_mb=10240)
    line = make_line(tenant_a, sim_type=SimType.VOICE, plan=large, voice_options={"flat_rate_calling": True})
    plan_order = submit(tenant_a, line, "plan_change", {"plan_code": small.code})
    voice_order = submit(tenant_a, line, "voice_options", {"options": {"flat_rate_calling": False}})
    assert plan_order.due_at == voice_order.due_at == jst(2026, 12, 1, 0, 0)
    with time_machine.travel(jst(2026, 12, 1, 0, 1), tick=False):
        complete(plan_order)
        complete(voice_order)
    old, new = periods(line)
    assert old.valid_to == new.valid_from == jst(2026, 12, 1, 0, 0)
    assert new.plan_id == small.pk and new.voice_options == {"flat_rate_calling": False}
    assert old.plan_id == large.pk and old.voice_options == {"flat_rate_calling": True}


@time_machine.travel(NOON, tick=False)
def test_sim_reissue_starts_on_the_ship_date_with_the_new_sim_m_proc_4(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, sim_size=SimSize.NANO)
    old_iccid = line.iccid
    order = submit(tenant_a, line, "sim_reissue", {"sim_size": "micro", "ship_date": "2026-11-26"})
    with time_machine.travel(jst(2026, 11, 26, 0, 3), tick=False):
        complete(order, new_iccid=make_iccid(777_001))
    old, new = periods(line)
    assert (old.sim_size, old.iccid) == (SimSize.NANO, old_iccid)
    assert (new.sim_size, new.iccid, new.valid_from) == (SimSize.MICRO, make_iccid(777_001), jst(2026, 11, 26, 0, 0))


@time_machine.travel(NOON, tick=False)
def test_cancellation_starts_the_day_after_the_end_date_m_proc_6(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    order = submit(tenant_a, line, "cancellation", {"end_date": "2026-11-30"})
    before = len(periods(line))
    assert before == 1  # accepting it sets a scheduled end date, which the history does not keep
    with time_machine.travel(jst(2026, 11, 30, 20, 0), tick=False):
        complete(order)
    active, cancelled = periods(line)
    assert active.status == LineStatus.ACTIVE and active.valid_to == cancelled.valid_from
    assert cancelled.status == LineStatus.CANCELLED and cancelled.valid_from == jst(2026, 12, 1, 0, 0)
    as_of = line_as_of(tenant=tenant_a.tenant, line_id=line.pk, at=jst(2026, 11, 30, 23, 0))
    assert as_of is not None and as_of.status == LineStatus.ACTIVE  # in service through its end date


@time_machine.travel(NOON, tick=False)
def test_a_failed_or_withdrawn_order_changes_no_history(tenant_a: TenantWorld) -> None:
    from kaisen.carriers.adapters import CarrierState, CarrierStatus
    from kaisen.procedures import results, services
    from tests.procedures.procedure_kit import sent

    line = make_line(tenant_a)
    order = sent(submit(tenant_a, line, "suspend"))
    results.order_apply_result(order=order, status=CarrierStatus(state=CarrierState.FAILED, error_code="X"))
    cancellation = submit(tenant_a, line, "cancellation", {"end_date": "2026-12-31"})
    services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=cancellation.pk)
    assert len(periods(line)) == 1


def test_the_engine_records_the_change_it_applies(settings: Any, tenant_a: TenantWorld) -> None:
    """The real engine (orders_tick with the carrier simulator), not only order_apply_result."""
    from kaisen.carriers import simulator
    from kaisen.procedures.engine import orders_tick

    settings.KAISEN_CARRIER_DELAY = 60
    settings.KAISEN_CARRIER_FAILURE_RATE = 0
    settings.KAISEN_CARRIER_TIMEOUT_RATE = 0
    simulator.faults.reset()
    line = make_line(tenant_a)
    with time_machine.travel(NOON, tick=False) as t:
        order = submit(tenant_a, line, "suspend")
        orders_tick(send_mail=False)
        t.shift(61)
        assert orders_tick(send_mail=False).completed == 1
    _old, new = periods(line)
    assert new.status == LineStatus.SUSPENDED and new.valid_from == order.due_at == NOON
    assert new.order_id == order.pk


def test_the_database_refuses_a_second_open_interval(tenant_a: TenantWorld) -> None:
    line = tenant_a.line
    p = periods(line)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        LinePeriod.objects.create(tenant=line.tenant, line=line, valid_from=p.valid_from + dt.timedelta(days=1),
                                  plan=line.plan, coverage=p.coverage, carrier=p.carrier, status=p.status,
                                  sim_size=p.sim_size, iccid=p.iccid, reason=LinePeriodReason.BACK_OFFICE)
    with pytest.raises(IntegrityError), transaction.atomic():
        LinePeriod.objects.filter(pk=p.pk).update(valid_to=p.valid_from)  # empty interval


def test_recording_needs_an_aware_time_and_skips_no_change(tenant_a: TenantWorld) -> None:
    line = tenant_a.line
    with pytest.raises(ValueError, match="aware"):
        line_record_change(line=line, at=dt.datetime(2026, 1, 1), reason=LinePeriodReason.BACK_OFFICE)
    assert line_record_change(line=line, at=clock.now(), reason=LinePeriodReason.BACK_OFFICE) is None
    assert len(periods(line)) == 1


@time_machine.travel(NOON, tick=False)
def test_sim_transfer_closes_the_senders_interval_and_opens_the_receivers_s_acc_4(
        tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    lines = LineFactory.create_batch(2, tenant=tenant_a.tenant, status=LineStatus.NOT_ACTIVATED, started_on=None)
    new = tenancy_services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                           lines=[line.iccid for line in lines])
    accepted_at = NOON + dt.timedelta(hours=2)
    with time_machine.travel(accepted_at, tick=False):
        tenancy_services.transfer_accept(actor=tenant_b.user, token=new.token)
    for line in lines:
        before, after = periods(line)
        assert before.tenant_id == tenant_a.tenant.pk and before.valid_to == accepted_at
        assert after.tenant_id == tenant_b.tenant.pk and after.valid_from == accepted_at
        assert after.reason == LinePeriodReason.TRANSFER
        # Each tenant reads only its own part of the line's history.
        assert line_history(tenant=tenant_b.tenant, line=line) == [after]
        assert line_history(tenant=tenant_a.tenant, line=line) == [before]
        assert line_as_of(tenant=tenant_b.tenant, line_id=line.pk, at=NOON) is None
        assert line_as_of(tenant=tenant_a.tenant, line_id=line.pk, at=accepted_at) is None


@time_machine.travel(NOON, tick=False)
def test_a_back_office_change_and_a_back_office_line_are_recorded(tenant_a: TenantWorld) -> None:
    staff = UserFactory(tenant=None, is_staff=True, is_superuser=True, username="history_staff")
    request = RequestFactory().post("/admin/lines/line/")
    request.user = staff
    model_admin = LineAdmin(Line, admin.site)
    line = tenant_a.line
    other = PlanFactory(code="BO-PLAN", carrier=line.carrier)
    data = {f: getattr(line, f) for f in LineAdminForm.Meta.fields}
    data.update(tenant=line.tenant_id, plan=other.pk, voice_options="{}", data_cap_mb="")
    data = {k: ("" if v is None else v) for k, v in data.items()}
    form = LineAdminForm(data, instance=line)
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    old, new = periods(line)
    assert (new.plan_id, new.reason, new.valid_from) == (other.pk, LinePeriodReason.BACK_OFFICE, NOON)
    assert old.plan_id != other.pk and old.valid_to == NOON

    data.update(iccid=make_iccid(888_001), msisdn="09033334444", started_on="2026-10-01")
    form = LineAdminForm(data)
    assert form.is_valid(), form.errors
    added = form.save(commit=False)
    model_admin.save_model(request, added, form, change=False)
    (p,) = periods(added)
    assert p.valid_from == jst(2026, 10, 1, 0, 0) and p.reason == LinePeriodReason.REGISTERED


# --- opening intervals in bulk: migration, demo ---------------------------------------------------

def _migration() -> Any:
    return importlib.import_module("kaisen.lines.migrations.0004_line_history")


@pytest.mark.parametrize("how", ["migration", "service"])
def test_existing_lines_get_their_opening_interval(how: str, tenant_a: TenantWorld) -> None:
    """The migration (and the same SQL for bulk-written lines) opens every line's history set-wise."""
    plan = PlanFactory(coverage=Coverage.GLOBAL)
    active = LineFactory(tenant=tenant_a.tenant, plan=plan, started_on=dt.date(2025, 4, 3), history=False,
                         voice_options={"voicemail": True}, data_cap_mb=500)
    waiting = LineFactory(tenant=tenant_a.tenant, plan=plan, status=LineStatus.NOT_ACTIVATED, started_on=None,
                          msisdn=None, history=False)
    ended = LineFactory(tenant=tenant_a.tenant, plan=plan, status=LineStatus.CANCELLED, history=False,
                        started_on=dt.date(2025, 4, 3), scheduled_end_on=dt.date(2026, 6, 30))
    had = LinePeriod.objects.count()
    if how == "migration":
        _migration().open_history(None, types.SimpleNamespace(connection=connection))
    else:
        assert line_history_open_missing(tenant_ids=[tenant_a.tenant.pk]) == 4
        assert line_history_open_missing(tenant_ids=[tenant_a.tenant.pk]) == 0  # idempotent
    assert LinePeriod.objects.count() == had + 4
    (p,) = periods(active)
    assert p.valid_from == jst(2025, 4, 3, 0, 0) and p.valid_to is None
    assert (p.plan_id, p.coverage, p.status, p.voice_options, p.data_cap_mb, p.tenant_id) == (
        plan.pk, Coverage.GLOBAL, LineStatus.ACTIVE, {"voicemail": True}, 500, tenant_a.tenant.pk)
    (w,) = periods(waiting)
    assert w.valid_from == waiting.created_at and w.msisdn is None and w.status == LineStatus.NOT_ACTIVATED
    in_service, cancelled = periods(ended)
    assert (in_service.status, in_service.valid_from, in_service.valid_to) == (
        LineStatus.ACTIVE, jst(2025, 4, 3, 0, 0), jst(2026, 7, 1, 0, 0))
    assert (cancelled.status, cancelled.valid_from, cancelled.valid_to) == (
        LineStatus.CANCELLED, jst(2026, 7, 1, 0, 0), None)
    assert_contiguous(ended)


def test_demo_lines_have_a_consistent_history() -> None:
    from kaisen.billing.demo import GLOBAL_PLAN
    from kaisen.demo import TENANTS, demo_create

    demo_create(lines=120, seed=7, today=dt.date(2026, 11, 24))
    lines = Line.objects.filter(tenant__public_id__in=[t["public_id"] for t in TENANTS])
    assert lines.count() == 120
    assert LinePeriod.objects.filter(line__in=lines, valid_to__isnull=True).count() == 120
    for line in lines.select_related("plan"):
        assert_contiguous(line)
        current = periods(line)[-1]
        assert (current.plan_id, current.status, current.tenant_id) == (line.plan_id, line.status, line.tenant_id)
    moved = LinePeriod.objects.filter(line__in=lines, plan__code=GLOBAL_PLAN["code"], valid_to__isnull=True)
    for p in moved:
        assert p.coverage == Coverage.GLOBAL and p.valid_from >= start_of_day_jst(dt.date(2026, 5, 1))


# --- reading: page, API ---------------------------------------------------------------------------

@time_machine.travel(NOON, tick=False)
def test_status_page_shows_the_history_with_the_order(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    line = make_line(tenant_a)
    order = complete(submit(tenant_a, line, "suspend"))
    client = Client()
    client.force_login(tenant_a.user)
    html = client.get(reverse("lines:detail", args=[line.pk])).content.decode()
    assert 'id="line-history"' in html
    assert f"#{order.pk}</a>" in html and "2026-11-24 12:00" in html and "2025-04-03 00:00" in html
    other = Client()
    other.force_login(tenant_b.user)
    assert other.get(reverse("lines:detail", args=[line.pk])).status_code == 404


@time_machine.travel(NOON, tick=False)
def test_api_history_and_as_of(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    small = PlanFactory(code="API-SMALL", data_allowance_mb=1024)
    large = PlanFactory(code="API-LARGE", data_allowance_mb=10240)
    line = make_line(tenant_a, plan=large)
    order = submit(tenant_a, line, "plan_change", {"plan_code": small.code})
    with time_machine.travel(jst(2026, 12, 1, 0, 5), tick=False):
        complete(order)
    api = tenant_a.api_now()  # a token of this test's clock (the fixture's was issued before it travelled)
    body = api.get(f"/api/v1/lines/{line.pk}/history").json()
    assert body["line_id"] == line.pk
    assert [(i["plan_code"], i["valid_from"], i["valid_to"]) for i in body["items"]] == [
        ("API-LARGE", "2025-04-03T00:00:00+09:00", "2026-12-01T00:00:00+09:00"),
        ("API-SMALL", "2026-12-01T00:00:00+09:00", None)]
    assert body["items"][1]["order_id"] == order.pk and body["items"][1]["reason"] == "order"
    for at, code in (("2026-11-30T23:59", "API-LARGE"), ("2026-12-01", "API-SMALL"),
                     ("2026-11-30T15:00:00Z", "API-SMALL")):
        items = api.get(f"/api/v1/lines/{line.pk}/history", {"at": at}).json()["items"]
        assert [i["plan_code"] for i in items] == [code], at
    assert api.get(f"/api/v1/lines/{line.pk}/history", {"at": "2020-01-01"}).json()["items"] == []
    bad = api.get(f"/api/v1/lines/{line.pk}/history", {"at": "30/11/2026"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATE"
    assert tenant_b.api_now().get(f"/api/v1/lines/{line.pk}/history").status_code == 404
    assert tenant_b.api_now().get(f"/api/v1/lines/{line.pk}/history", {"at": "2026-12-01"}).status_code == 404


def test_every_factory_line_has_history(tenant_a: TenantWorld) -> None:
    for line in tenant_a.lines:
        assert_contiguous(line)
    assert Carrier.DOCOMO in {p.carrier for line in tenant_a.lines for p in periods(line)}


# --- CLI ------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_cli_lines_history(live_server: Any, tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from kaisen.cli import app
    from tests.conftest import make_world

    a, b = make_world(n_lines=1), make_world(n_lines=1)
    line = a.line
    with time_machine.travel(NOON, tick=False), transaction.atomic():  # as the engine does
        complete(submit(a, line, "suspend"))
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": a.token,
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    runner = CliRunner()
    for ref in ([line.msisdn], [line.iccid], ["--id", str(line.pk)]):
        res = runner.invoke(app, ["lines", "history", *ref], env=env, catch_exceptions=False)
        assert res.exit_code == 0, res.output
        body = json.loads(res.stdout)
        assert [i["status"] for i in body["items"]] == ["active", "suspended"]
        assert body["items"][1]["valid_from"] == "2026-11-24T12:00:00+09:00"
    res = runner.invoke(app, ["lines", "history", line.iccid, "--at", "2026-11-24T11:59"], env=env,
                        catch_exceptions=False)
    assert res.exit_code == 0 and [i["status"] for i in json.loads(res.stdout)["items"]] == ["active"]
    res = runner.invoke(app, ["lines", "history", line.iccid, "--at", "tomorrow"], env=env, catch_exceptions=False)
    assert res.exit_code == 1 and "INVALID_DATE" in res.stderr
    res = runner.invoke(app, ["lines", "history", "--id", str(b.line.pk)], env=env, catch_exceptions=False)
    assert res.exit_code == 1 and "NOT_FOUND" in res.stderr
