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
from kaisen.alerts.evaluate import rule_evaluate, rules_evaluate
from kaisen.alerts.models import AlertFiring, AlertRule
from kaisen.alerts.services import rule_create
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events.models import Delivery, Event
from kaisen.events.services import endpoint_create
from kaisen.notifications.models import OutboxMessage
from kaisen.procedures.models import Order, OrderKind
from kaisen.usage.ingest import usage_file_import
from kaisen.usage.models import CallRecord
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


def test_call_and_international_charges(tenant_a: TenantWorld) -> None:
    now = clock.now()
    line, other, _ = tenant_a.lines
    header = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"
    start = now.astimezone(clock.JST).replace(tzinfo=None, microsecond=0) - dt.timedelta(hours=1)
    rows = [f"C{i},{line.msisdn},{start:%Y-%m-%d %H:%M:%S}.0,600,0312345678,東京,,0,1,,voice" for i in range(3)]
    rows += [f"I1,{other.msisdn},{start:%Y-%m-%d %H:%M:%S}.0,600,+14155550100,アメリカ,,0,1,,voice"]
    usage_file_import(fileobj=io.BytesIO((header + "\n".join(rows) + "\n").encode()), name="calls.csv")
    CallRecord.objects.filter(line=line).update(charge=Decimal("400"))  # as rating stores it
    CallRecord.objects.filter(line=other).update(charge=Decimal("900"))
    calls = rule(tenant_a, "calls_month_yen", 1000)
    intl = rule(tenant_a, "intl_month_yen", 500)
    rules_evaluate(tenant_id=tenant_a.tenant.pk)
    by_rule = {(f.rule_id, f.line_id): f.value for f in AlertFiring.objects.filter(tenant=tenant_a.tenant)}
    assert by_rule == {(calls.pk, line.pk): Decimal("1200.00"), (intl.pk, other.pk): Decimal("900.00")}


def test_no_traffic_for_n_days(tenant_a: TenantWorld) -> None:
    today = clock.today_jst()
    busy, quiet, new = tenant_a.lines
    for line, started in ((busy, today - dt.timedelta(days=30)), (quiet, today - dt.timedelta(days=30)),
                          (new, today - dt.timedelta(days=2))):
        line.started_on = started
        line.save(update_fields=["started_on"])
    rule(tenant_a, "no_traffic_days", 7)
    import_data([(busy, today, 1 * MB)])
    assert fired(tenant_a) == [(quiet.pk, f"{today:%Y-%m}")]  # the new line has not been in service 7 days


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
