"""Usage alert rules (issue 13 §3): conditions evaluated set-wise after an import, once per period per line,
with a firing history; actions mail / webhook / suspend (the suspension through the ordinary order path)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kaisen.access import services as access
from kaisen.alerts.evaluate import quiet_rules_evaluate, rule_evaluate, rules_evaluate
from kaisen.alerts.models import AlertFiring, AlertRule
from kaisen.alerts.services import rule_create
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events.models import Delivery, Event
from kaisen.events.services import endpoint_create
from kaisen.notifications.models import OutboxMessage
from kaisen.procedures.models import Order, OrderKind
from kaisen.usage.ingest import usage_file_import
from kaisen.usage.models import CallRecord, UsageRollup
from tests.access.helpers import member
from tests.conftest import TenantWorld, make_world
from tests.factories import LineFactory
from tests.procedures.procedure_kit import jst

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


def rule(world: TenantWorld, condition: str, threshold: Any, actions: list[str] | None = None,
         **kw: Any) -> AlertRule:
    return rule_create(user=world.user, name=kw.pop("name", f"{condition} {threshold}"), scope=kw.pop("scope", "all"),
                       condition=condition, threshold=threshold, rule_actions=actions or ["mail"], **kw)


def import_data(rows: list[tuple[Any, dt.date, int]], name: str = "data.csv") -> None:
    text = "date,msisdn,iccid,bytes\n" + "".join(f"{day.isoformat()},{line.msisdn},,{b}\n" for line, day, b in rows)
    usage_file_import(fileobj=io.BytesIO(text.encode()), name=name)


def fired(world: TenantWorld) -> list[tuple[int | None, str]]:
    return sorted((f.line_id, f.period) for f in AlertFiring.objects.filter(tenant=world.tenant))


def test_data_over_mb_fires_on_import_once_per_month_per_line(tenant_a: TenantWorld) -> None:
    today = clock.today_jst()
    big, small, _idle = tenant_a.lines
    rule(tenant_a, "data_month_mb", 100)
    import_data([(big, today, 150 * MB), (small, today, 10 * MB)])
    assert fired(tenant_a) == [(big.pk, f"{today:%Y-%m}")]
    firing = AlertFiring.objects.get(tenant=tenant_a.tenant)
    assert firing.value == Decimal("150.00") and firing.outcome == {"mail": "queued"}
    mail = OutboxMessage.objects.get(tenant=tenant_a.tenant, topic="alert.fired")
    assert big.msisdn in mail.body and small.msisdn not in mail.body
    # A second import in the same month: the line is still over, but has fired for this month already.
    import_data([(big, today, 200 * MB), (small, today, 20 * MB)], name="data2.csv")
    assert fired(tenant_a) == [(big.pk, f"{today:%Y-%m}")]
    assert OutboxMessage.objects.filter(topic="alert.fired").count() == 1


def test_percent_of_allowance(tenant_a: TenantWorld) -> None:
    today = clock.today_jst()
    line = tenant_a.lines[0]  # the factory plan: 3072 MB allowance
    assert line.plan.data_allowance_mb == 3072
    rule(tenant_a, "data_month_pct", 80)
    import_data([(line, today, 2400 * MB)])  # 78 %
    assert fired(tenant_a) == []
    import_data([(line, today, 2500 * MB)], name="more.csv")  # 81.4 %
    assert [f.value for f in AlertFiring.objects.filter(tenant=tenant_a.tenant)] == [Decimal("81.38")]


def test_one_days_data_fires_once_per_day(tenant_a: TenantWorld) -> None:
    today = clock.today_jst()
    line = tenant_a.line
    rule(tenant_a, "data_day_mb", 50)
    days = [today - dt.timedelta(days=i) for i in range(3) if (today - dt.timedelta(days=i)).month == today.month]
    import_data([(line, day, 60 * MB) for day in days])
    assert fired(tenant_a) == sorted((line.pk, day.isoformat()) for day in days)


CALL_HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"


def import_calls(rows: list[tuple[str, Any, dt.datetime, str]], name: str) -> None:
    """Calls (record ID, line, start in Japan time, destination) of 60 s each: rated at ingest, ¥40 a domestic
    call and ¥60 a call to the USA (the seeded call rates)."""
    text = CALL_HEADER + "".join(
        f"{rid},{line.msisdn},{start.astimezone(clock.JST):%Y-%m-%d %H:%M:%S}.0,600,{dest},"
        f"{'アメリカ' if dest.startswith('+') else '東京'},,0,1,,voice\n" for rid, line, start, dest in rows)
    usage_file_import(fileobj=io.BytesIO(text.encode()), name=name)


def test_call_and_international_charges_come_from_the_rollups(tenant_a: TenantWorld) -> None:
    line, other, _ = tenant_a.lines
    start = clock.now() - dt.timedelta(hours=1)
    import_calls([(f"C{i}", line, start, "0312345678") for i in range(3)]
                 + [("I1", other, start, "+14155550100")], name="calls.csv")
    assert sorted(UsageRollup.objects.filter(tenant=tenant_a.tenant).values_list("line_id", "charge")) == [
        (line.pk, Decimal("120.00")), (other.pk, Decimal("60.00"))]
    # The rollups are the source, not the raw calls: zeroing the calls' own charges changes nothing.
    CallRecord.objects.filter(tenant=tenant_a.tenant).update(charge=Decimal("0"))
    calls = rule(tenant_a, "calls_month_yen", 100)
    intl = rule(tenant_a, "intl_month_yen", 50)
    rules_evaluate(tenant_id=tenant_a.tenant.pk)
    by_rule = {(f.rule_id, f.line_id): f.value for f in AlertFiring.objects.filter(tenant=tenant_a.tenant)}
    # ¥60 of the other line is under ¥100; the domestic calls are not international.
    assert by_rule == {(calls.pk, line.pk): Decimal("120.00"), (intl.pk, other.pk): Decimal("60.00")}


def test_calls_the_flat_rate_calling_makes_free_do_not_count(tenant_a: TenantWorld) -> None:
    line = tenant_a.line
    import_calls([(f"F{i}", line, clock.now() - dt.timedelta(hours=1), "0312345678") for i in range(3)],
                 name="free.csv")
    UsageRollup.objects.filter(line=line).update(flat_rate_free=True)  # as rating files flat-rate calls
    rule(tenant_a, "calls_month_yen", 100)
    rules_evaluate(tenant_id=tenant_a.tenant.pk)
    assert fired(tenant_a) == []


def test_late_usage_fires_for_the_month_it_belongs_to_once(tenant_a: TenantWorld) -> None:
    """Calls of 30 November arrive on 2 December: the rule fires for November (the month of use), once,
    without taking December's firing; a suspension is not ordered for a month that has ended."""
    line, other, _ = tenant_a.lines
    with time_machine.travel(jst(2026, 11, 10, 11, 0), tick=False):
        r = rule(tenant_a, "calls_month_yen", 100, actions=["mail", "webhook", "suspend"])
    with time_machine.travel(jst(2026, 11, 30, 12, 0), tick=False):
        import_calls([("N1", line, jst(2026, 11, 30, 9, 0), "0312345678")], name="nov.csv")  # ¥40: under
        assert fired(tenant_a) == []
    with time_machine.travel(jst(2026, 12, 2, 11, 0), tick=False):
        import_calls([("N2", line, jst(2026, 11, 30, 20, 0), "0312345678"),
                      ("N3", line, jst(2026, 11, 30, 21, 0), "0312345678"),
                      ("D1", other, jst(2026, 12, 1, 10, 0), "0312345678")], name="late.csv")
        [firing] = AlertFiring.objects.filter(tenant=tenant_a.tenant)
        assert (firing.line_id, firing.period, firing.value) == (line.pk, "2026-11", Decimal("120.00"))
        assert firing.outcome["suspend"] == "not suspended: the period has ended"
        assert not Order.objects.exists()
        assert Event.objects.get(type="usage_alert.fired").data["period"] == "2026-11"
        # More late November usage: November has fired for this line already.
        import_calls([("N4", line, jst(2026, 11, 30, 22, 0), "0312345678")], name="late2.csv")
        assert fired(tenant_a) == [(line.pk, "2026-11")]
        # December on its own: the same line crosses again in December, a firing of its own.
        import_calls([(f"D{i}", line, jst(2026, 12, 2, 9, i), "0312345678") for i in range(2, 5)], name="dec.csv")
        assert fired(tenant_a) == [(line.pk, "2026-11"), (line.pk, "2026-12")]
        december = AlertFiring.objects.get(tenant=tenant_a.tenant, period="2026-12")
        assert december.value == Decimal("120.00")  # December's calls only, not November's
        assert december.outcome["suspend"].startswith("order ")
    assert r.pk == december.rule_id


def test_late_data_of_the_previous_month_fires_for_that_month(tenant_a: TenantWorld) -> None:
    line = tenant_a.line
    with time_machine.travel(jst(2026, 11, 3, 11, 0), tick=False):
        rule(tenant_a, "data_month_mb", 100)
        rule(tenant_a, "data_day_mb", 100, name="day")
    with time_machine.travel(jst(2026, 12, 1, 11, 0), tick=False):
        import_data([(line, dt.date(2026, 11, 30), 150 * MB), (line, dt.date(2026, 12, 1), 5 * MB)], name="late.csv")
        assert fired(tenant_a) == [(line.pk, "2026-11"), (line.pk, "2026-11-30")]


def test_a_new_rule_never_fires_for_a_month_that_ended_before_it(tenant_a: TenantWorld) -> None:
    line = tenant_a.line
    with time_machine.travel(jst(2026, 12, 2, 11, 0), tick=False):
        rule(tenant_a, "calls_month_yen", 100)
        rule(tenant_a, "data_month_mb", 100)
        import_calls([(f"N{i}", line, jst(2026, 11, 30, 9, i), "0312345678") for i in range(3)], name="late.csv")
        import_data([(line, dt.date(2026, 11, 30), 150 * MB)], name="late-data.csv")
        assert fired(tenant_a) == []


def test_no_traffic_for_n_days(tenant_a: TenantWorld) -> None:
    today = clock.today_jst()
    busy, quiet, new = tenant_a.lines
    for line, started in ((busy, today - dt.timedelta(days=30)), (quiet, today - dt.timedelta(days=30)),
                          (new, today - dt.timedelta(days=2))):
        line.started_on = started
        line.save(update_fields=["started_on"])
    rule(tenant_a, "no_traffic_days", 7)
    import_data([(busy, today, 1 * MB)])
    # A quiet line is not in any import: the scheduler's job evaluates the rule, not the import.
    assert fired(tenant_a) == []
    assert quiet_rules_evaluate() == 1
    assert fired(tenant_a) == [(quiet.pk, f"{today:%Y-%m}")]  # the new line has not been in service 7 days
    # Once per month and line, however often the job runs.
    assert quiet_rules_evaluate() == 0
    assert fired(tenant_a) == [(quiet.pk, f"{today:%Y-%m}")]
    assert OutboxMessage.objects.filter(tenant=tenant_a.tenant, topic="alert.fired").count() == 1


def test_no_traffic_fires_again_in_the_next_month_from_the_job(tenant_a: TenantWorld) -> None:
    _busy, quiet, _new = tenant_a.lines
    with time_machine.travel(jst(2026, 11, 20, 10, 0), tick=False):
        for line in tenant_a.lines:
            line.started_on = dt.date(2026, 10, 1)
            line.save(update_fields=["started_on"])
        rule(tenant_a, "no_traffic_days", 7)
        import_data([(line, dt.date(2026, 11, 20), 1 * MB) for line in tenant_a.lines if line != quiet])
        assert quiet_rules_evaluate() == 1
    with time_machine.travel(jst(2026, 11, 30, 10, 0), tick=False):
        assert quiet_rules_evaluate() == 2  # the other two have been quiet for 10 days now
        assert quiet_rules_evaluate() == 0
    with time_machine.travel(jst(2026, 12, 1, 10, 0), tick=False):
        assert quiet_rules_evaluate() == 3
    assert fired(tenant_a) == sorted([(line.pk, "2026-11") for line in tenant_a.lines]
                                     + [(line.pk, "2026-12") for line in tenant_a.lines])


def test_no_traffic_is_a_periodic_job_and_not_evaluated_on_import() -> None:
    from kaisen.alerts.evaluate import CALL_CONDITIONS, DATA_CONDITIONS
    from kaisen.alerts.models import Condition
    from kaisen.core.periodic import JOBS

    assert "kaisen.alerts.evaluate.quiet_rules_evaluate" in {j.func for j in JOBS}
    assert Condition.NO_TRAFFIC_DAYS not in DATA_CONDITIONS | CALL_CONDITIONS


def test_a_call_in_the_window_is_traffic_even_across_a_month_end(tenant_a: TenantWorld) -> None:
    """The "no traffic" look-up reads only the months a call since the window's start can be billed in."""
    caller, quiet, other = tenant_a.lines
    with time_machine.travel(jst(2026, 12, 3, 11, 0), tick=False):
        for line in tenant_a.lines:
            line.started_on = dt.date(2026, 10, 1)
            line.save(update_fields=["started_on"])
        other.status = "suspended"
        other.save(update_fields=["status"])
        rule(tenant_a, "no_traffic_days", 7)
        import_calls([("W1", caller, jst(2026, 11, 28, 10, 0), "0312345678")], name="window.csv")
        quiet_rules_evaluate()
        assert fired(tenant_a) == [(quiet.pk, "2026-12")]


def test_scope_tag_and_one_line(tenant_a: TenantWorld) -> None:
    today = clock.today_jst()
    a, b, c = tenant_a.lines
    tag = access.tag_create(actor=tenant_a.user, kind="group", name="sales")
    access.line_tags_set(actor=tenant_a.user, line_id=b.pk, tags=[tag.pk])
    rule(tenant_a, "data_month_mb", 1, scope="tag", tag_id=tag.pk)
    rule(tenant_a, "data_month_mb", 1, scope="line", line_id=c.pk)
    import_data([(a, today, 5 * MB), (b, today, 5 * MB), (c, today, 5 * MB)])
    assert sorted(f.line_id for f in AlertFiring.objects.filter(tenant=tenant_a.tenant)) == [b.pk, c.pk]


def test_webhook_action_writes_the_event(tenant_a: TenantWorld) -> None:
    today = clock.today_jst()
    r = rule(tenant_a, "data_month_mb", 1, actions=["webhook"])
    import_data([(tenant_a.line, today, 5 * MB)])
    [event] = Event.objects.filter(tenant=tenant_a.tenant, type="usage_alert.fired")
    assert event.data["rule_id"] == r.pk and event.data["line_id"] == tenant_a.line.pk
    assert event.data["value"] == "5.00" and event.line_id == tenant_a.line.pk
    assert not OutboxMessage.objects.filter(topic="alert.fired").exists()


def test_rules_of_another_tenant_never_see_my_lines(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    today = clock.today_jst()
    rule(tenant_b, "data_month_mb", 1, actions=["mail", "webhook"])
    import_data([(tenant_a.line, today, 50 * MB)])
    assert not AlertFiring.objects.exists()
    with pytest.raises(DomainError) as exc:  # and a rule cannot name another tenant's line
        rule(tenant_b, "data_month_mb", 1, scope="line", line_id=tenant_a.line.pk)
    assert exc.value.code == ErrorCode.VALIDATION_ERROR and exc.value.field == "line_id"


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_suspend_action_goes_through_the_order_engine(tenant_a: TenantWorld) -> None:
    line = tenant_a.line
    rule(tenant_a, "data_month_mb", 10, actions=["suspend"])
    import_data([(line, clock.today_jst(), 50 * MB)])
    order = Order.objects.get(line=line)
    assert order.kind == OrderKind.SUSPEND and order.requested_by_id == tenant_a.user.pk
    firing = AlertFiring.objects.get(tenant=tenant_a.tenant)
    assert firing.outcome["suspend"] == f"order {order.pk}"
    assert Event.objects.filter(type="order.accepted", data__order_id=order.pk).exists()


@time_machine.travel(jst(2026, 11, 24, 20, 30), tick=False)
def test_suspend_outside_reception_hours_is_refused_and_recorded(tenant_a: TenantWorld) -> None:
    rule(tenant_a, "data_month_mb", 10, actions=["suspend", "mail"])
    import_data([(tenant_a.line, clock.today_jst(), 50 * MB)])
    assert not Order.objects.exists()
    firing = AlertFiring.objects.get(tenant=tenant_a.tenant)
    assert firing.outcome["suspend"].startswith("refused: OUTSIDE_RECEPTION_HOURS")
    assert firing.outcome["mail"] == "queued"


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_suspend_needs_the_permission_and_uses_the_authors_rights(tenant_a: TenantWorld) -> None:
    access.role_create(actor=tenant_a.user, name="alerts only",
                       statements=[("allow", "Alert:*"), ("allow", "Line:read")])
    watcher = member(tenant_a, "alerts only", username="watcher_01")
    with pytest.raises(DomainError) as exc:
        rule_create(user=watcher, name="x", scope="all", condition="data_month_mb", threshold=1,
                    rule_actions=["suspend"])
    assert exc.value.code == ErrorCode.PERMISSION_DENIED
    # A mail-only rule is fine for them.
    assert rule_create(user=watcher, name="y", scope="all", condition="data_month_mb", threshold=1,
                       rule_actions=["mail"]).pk


def test_bad_rules_are_refused(tenant_a: TenantWorld) -> None:
    cases = [({"condition": "data_month_mb", "threshold": 0}, "threshold"),
             ({"condition": "data_month_mb", "threshold": "abc"}, "threshold"),
             ({"condition": "data_month_mb", "threshold": "NaN"}, "threshold"),
             ({"condition": "no_traffic_days", "threshold": "2.5"}, "threshold"),
             ({"condition": "nope", "threshold": 1}, "condition"),
             ({"condition": "data_month_mb", "threshold": 1, "actions": ["sms"]}, "actions"),
             ({"condition": "data_month_mb", "threshold": 1, "scope": "tag", "tag_id": 999999}, "tag_id")]
    for kw, field in cases:
        actions = kw.pop("actions", ["mail"])
        with pytest.raises(DomainError) as exc:
            rule(tenant_a, kw.pop("condition"), kw.pop("threshold"), actions=actions, **kw)
        assert exc.value.field == field, kw
    assert not AlertRule.objects.exists()


def test_evaluation_is_set_wise_not_per_line(tenant_a: TenantWorld, receiver: Any, allow_local: None) -> None:
    """The queries to evaluate a rule (firings, mail, events and their webhook deliveries) do not grow with
    the number of lines over it."""
    today = clock.today_jst()

    def queries(n: int) -> int:
        world = make_world(n_lines=0)
        lines = LineFactory.create_batch(n, tenant=world.tenant)
        r = rule(world, "data_month_mb", 1, actions=["webhook", "mail"])
        endpoint_create(tenant=world.tenant, user=world.user, url=receiver.url, event_types=["usage_alert.fired"])
        import_data([(line, today, 5 * MB) for line in lines], name=f"d{n}.csv")
        AlertFiring.objects.filter(rule=r).delete()  # the import fired it already: once more, measured
        Delivery.objects.filter(tenant=world.tenant).delete()
        with CaptureQueriesContext(connection) as ctx:
            made = rule_evaluate(r)
        assert len(made) == n
        assert Delivery.objects.filter(tenant=world.tenant, event__type="usage_alert.fired").count() == n
        return len(ctx.captured_queries)

    assert queries(3) == queries(40)


def test_a_rule_firing_for_many_lines_writes_each_once_with_its_event_and_delivery(
        tenant_a: TenantWorld, receiver: Any, allow_local: None) -> None:
    """Set-wise writing (one INSERT … SELECT … RETURNING per rule, then the events and deliveries from the
    firings): one firing per line and period, an event in the outbox for each with the line's number, one
    delivery per event in the lines' order, one mail; a second import of the month writes none of them again."""
    from kaisen.events.catalogue import EVENT_TYPES, validate_data

    today = clock.today_jst()
    lines = LineFactory.create_batch(30, tenant=tenant_a.tenant)
    r = rule(tenant_a, "data_month_mb", 1, actions=["webhook", "mail"])
    endpoint_create(tenant=tenant_a.tenant, user=tenant_a.user, url=receiver.url, event_types=["usage_alert.fired"])
    import_data([(line, today, (5 + i) * MB) for i, line in enumerate(lines)])
    month = f"{today:%Y-%m}"
    assert fired(tenant_a) == sorted((line.pk, month) for line in lines)
    firings = {f.line_id: f for f in AlertFiring.objects.filter(tenant=tenant_a.tenant)}
    assert firings[lines[3].pk].value == Decimal("8.00") and firings[lines[3].pk].key == f"{r.pk}:{lines[3].pk}:{month}"
    assert firings[lines[3].pk].outcome == {"webhook": "event written", "mail": "queued"}
    events = list(Event.objects.filter(tenant=tenant_a.tenant, type="usage_alert.fired").order_by("id"))
    assert [e.line_id for e in events] == [f.line_id for f in sorted(firings.values(), key=lambda f: f.pk)]
    assert len({e.event_id for e in events}) == 30
    for e in events:
        assert e.event_id.startswith("evt_") and len(e.event_id) == 30 and e.version == EVENT_TYPES[e.type].version
        assert validate_data(e.type, e.data) == e.data  # the database built exactly the schema's payload
        line = next(x for x in lines if x.pk == e.line_id)
        assert e.data == {"rule_id": r.pk, "rule_name": r.name, "condition": "data_month_mb", "threshold": "1.00",
                          "value": str(firings[line.pk].value), "period": month, "line_id": line.pk,
                          "msisdn": line.msisdn, "actions": r.actions}
    deliveries = list(Delivery.objects.filter(tenant=tenant_a.tenant).order_by("id"))
    assert [d.event_id for d in deliveries] == [e.pk for e in events]
    assert [d.line_id for d in deliveries] == [e.line_id for e in events]
    assert all(d.status == "pending" and d.next_attempt_at is not None for d in deliveries)
    assert OutboxMessage.objects.filter(tenant=tenant_a.tenant, topic="alert.fired").count() == 1
    import_data([(line, today, 50 * MB) for line in lines], name="again.csv")
    assert AlertFiring.objects.filter(tenant=tenant_a.tenant).count() == 30
    assert Event.objects.filter(tenant=tenant_a.tenant, type="usage_alert.fired").count() == 30
    assert Delivery.objects.filter(tenant=tenant_a.tenant).count() == 30
    assert OutboxMessage.objects.filter(tenant=tenant_a.tenant, topic="alert.fired").count() == 1


def test_an_import_evaluates_only_the_lines_and_tenants_of_its_file(tenant_a: TenantWorld,
                                                                   tenant_b: TenantWorld) -> None:
    """An import's cost follows its file: a line over the threshold that is not in the file (here: the rule was
    made after its usage came) is not read, and neither are the rules of a tenant without usage in the file;
    each fires with the next usage of its lines (or by ``rules_evaluate`` over everything)."""
    today = clock.today_jst()
    a1, a2, _ = tenant_a.lines
    import_data([(a1, today, 50 * MB), (tenant_b.line, today, 50 * MB)])
    rule(tenant_a, "data_month_mb", 10)
    rule(tenant_b, "data_month_mb", 10)
    import_data([(a2, today, 20 * MB)], name="a2.csv")
    assert fired(tenant_a) == [(a2.pk, f"{today:%Y-%m}")] and fired(tenant_b) == []
    import_data([(a1, today, 60 * MB)], name="a1.csv")
    assert fired(tenant_a) == sorted([(a1.pk, f"{today:%Y-%m}"), (a2.pk, f"{today:%Y-%m}")])
    assert fired(tenant_b) == []
    rules_evaluate()  # everything, not an import
    assert fired(tenant_b) == [(tenant_b.line.pk, f"{today:%Y-%m}")]
