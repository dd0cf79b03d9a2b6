"""Reception hours, closed days and carrier windows as data (issue 15 §2, M-AUTH-2, T-4): edited by staff,
effective-dated with a history, the environment as the default, shown to customers, bad input refused."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from kaisen.audit.models import AuditEvent
from kaisen.carriers.simulator import carried_out_from
from kaisen.controls import functions as fn
from kaisen.controls import services
from kaisen.controls.models import ReceptionHours
from kaisen.core import calendar, clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.procedures.models import OrderKind
from kaisen.procedures.services import order_submit
from tests.conftest import make_world

JST = clock.JST
TUESDAY_0830 = dt.datetime(2026, 11, 24, 8, 30, tzinfo=JST)


@pytest.mark.django_db
def test_without_rows_the_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAISEN_RECEPTION_HOURS", "09:30-18:59")
    assert calendar.reception_window("").label() == "09:30–18:59"
    assert calendar.reception_window("suspend").label() == "09:30–18:59"


@pytest.mark.django_db
def test_staff_change_is_in_force_at_once_and_the_history_is_kept() -> None:
    with time_machine.travel(TUESDAY_0830, tick=False) as t:
        world = make_world(1)
        with pytest.raises(DomainError) as caught:  # 08:30 is before the default 09:00
            order_submit(tenant=world.tenant, user=world.user, line_id=world.line.pk, kind=OrderKind.SUSPEND,
                         params={}, idempotency_key="h-1")
        assert caught.value.code == ErrorCode.OUTSIDE_RECEPTION_HOURS
        services.hours_set(function="", opens="08:00", closes="20:59", actor="staff-test")
        assert calendar.reception_window("suspend").label() == "08:00–20:59"
        order_submit(tenant=world.tenant, user=world.user, line_id=world.line.pk, kind=OrderKind.SUSPEND,
                     params={}, idempotency_key="h-2")
        # Hours for later: the current ones stay until then; both rows are kept.
        tomorrow = TUESDAY_0830 + dt.timedelta(days=1)
        services.hours_set(function="", opens="10:00", closes="17:59", effective_from=tomorrow, actor="staff-test")
        assert calendar.reception_window("").label() == "08:00–20:59"
        assert calendar.reception_window("", tomorrow).label() == "10:00–17:59"
        t.move_to(tomorrow + dt.timedelta(minutes=1))
        assert calendar.reception_window("").label() == "10:00–17:59"
        assert ReceptionHours.objects.filter(function="").count() == 2
        assert AuditEvent.objects.filter(action="controls.hours.set").count() == 2


@pytest.mark.django_db
def test_a_procedure_has_its_own_hours() -> None:
    services.hours_set(function=fn.procedure("cancellation"), opens="10:00", closes="16:59", actor="staff-test")
    assert calendar.reception_window("cancellation").label() == "10:00–16:59"
    assert calendar.reception_window("suspend").label() == "09:00–19:59"


@pytest.mark.django_db
def test_softbank_window_is_data() -> None:
    received = dt.datetime(2026, 11, 24, 9, 15, tzinfo=JST)
    assert carried_out_from("softbank", "suspend", received) == dt.datetime(2026, 11, 24, 10, 0, tzinfo=JST)
    with time_machine.travel(received, tick=False):
        services.hours_set(function=fn.CARRIER_SOFTBANK, opens="11:00", closes="19:59", actor="staff-test")
    assert carried_out_from("softbank", "suspend", received) == dt.datetime(2026, 11, 24, 11, 0, tzinfo=JST)
    assert carried_out_from("docomo", "suspend", received) == received  # other carriers: at once


@pytest.mark.django_db
def test_closed_days_keep_the_defaults_and_add_one() -> None:
    year = clock.today_jst().year + 1
    extra = dt.date(year, 6, 2)
    while extra.weekday() >= 5:
        extra += dt.timedelta(days=1)
    assert calendar.is_business_day(extra)
    assert not calendar.is_business_day(dt.date(year, 12, 30))  # the default year-end days
    row = services.closed_day_add(day=extra, actor="staff-test")
    assert not calendar.is_business_day(extra)
    assert not calendar.is_business_day(dt.date(year, 12, 30))  # copied, still closed
    with pytest.raises(DomainError) as caught:
        services.closed_day_add(day=extra, actor="staff-test")
    assert caught.value.code == ErrorCode.DUPLICATE
    services.closed_day_remove(closed_day_id=row.pk, actor="staff-test")
    assert calendar.is_business_day(extra)


@pytest.mark.django_db
@pytest.mark.parametrize(("kw", "code"), [
    ({"function": "procedure.nonsense", "opens": "09:00", "closes": "18:00"}, ErrorCode.UNKNOWN_FUNCTION),
    ({"function": "", "opens": "18:00", "closes": "09:00"}, ErrorCode.INVALID_PERIOD),
    ({"function": "", "opens": "9 o'clock", "closes": "18:00"}, ErrorCode.VALIDATION_ERROR),
])
def test_bad_hours_are_refused(kw: dict[str, str], code: str) -> None:
    with pytest.raises(DomainError) as caught:
        services.hours_set(actor="staff-test", **kw)
    assert caught.value.code == code and 400 <= caught.value.http_status < 500
    assert not ReceptionHours.objects.exists()


@pytest.mark.django_db
def test_hours_in_the_past_are_refused() -> None:
    with pytest.raises(DomainError) as caught:
        services.hours_set(function="", opens="09:00", closes="18:00",
                           effective_from=clock.now() - dt.timedelta(days=1), actor="staff-test")
    assert caught.value.code == ErrorCode.INVALID_PERIOD


@pytest.mark.django_db
def test_customers_see_the_hours_on_the_web_and_the_api() -> None:
    world = make_world(1)
    services.hours_set(function=fn.procedure("suspend"), opens="10:00", closes="18:59", actor="staff-test")
    client = Client()
    client.force_login(world.user)
    client.cookies["django_language"] = "en"
    page = client.get("/notices/service/").content.decode()
    assert "10:00–18:59" in page and "09:00–19:59" in page
    body = world.api().get("/api/v1/service").json()
    hours = {row["function"]: row["hours"] for row in body["hours"]}
    assert hours["procedure.suspend"] == "10:00–18:59" and hours[""] == "09:00–19:59"
    assert hours["carrier.softbank"] == "10:00–"
