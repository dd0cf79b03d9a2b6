"""Closed days of the company calendar keep a history (issue 15 §2): closing a day or opening it again adds an
effective-dated row like the reception hours; nothing is changed or deleted; the business-day calculations read
the calendar in force on the day they ask about; staff see the history in the back office and the CLI,
customers on the service page and ``GET /api/v1/service``; bad input is refused with nothing written.

The calendar is the operator's, one for every tenant (like the hours): there is no tenant to isolate."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client
from typer.testing import CliRunner

from kaisen.accounts.services import user_create
from kaisen.audit.models import AuditEvent
from kaisen.billing.close import billing_dates
from kaisen.cli import app
from kaisen.controls import services
from kaisen.controls.models import ClosedDay
from kaisen.core import calendar, clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from tests.conftest import make_world

pytestmark = pytest.mark.django_db

JST = clock.JST
MONDAY = dt.datetime(2026, 12, 7, 10, 0, tzinfo=JST)
CHRISTMAS_EVE = dt.date(2026, 12, 24)  # a Thursday, an ordinary business day
runner = CliRunner()


@pytest.fixture
def monday() -> time_machine.Coordinates:
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


def test_closing_and_opening_a_day_adds_rows_and_the_calculations_follow(monday: time_machine.Coordinates) -> None:
    assert calendar.is_business_day(CHRISTMAS_EVE)
    assert calendar.add_business_days(dt.date(2026, 12, 23), 1) == CHRISTMAS_EVE
    closed = services.closed_day_add(day=CHRISTMAS_EVE, note="year-end party", actor="staff-test")
    assert (closed.closed, closed.effective_from) == (True, MONDAY.date())
    assert not calendar.is_business_day(CHRISTMAS_EVE)
    assert calendar.add_business_days(dt.date(2026, 12, 23), 1) == dt.date(2026, 12, 25)
    monday.move_to(MONDAY + dt.timedelta(days=3))
    opened = services.closed_day_remove(day=CHRISTMAS_EVE, actor="staff-test")
    assert (opened.closed, opened.effective_from) == (False, dt.date(2026, 12, 10))
    assert calendar.is_business_day(CHRISTMAS_EVE)
    assert calendar.add_business_days(dt.date(2026, 12, 23), 1) == CHRISTMAS_EVE
    # Both changes are kept, the latest first, and audited.
    history = list(services.closed_day_history())
    assert [(r.day, r.closed) for r in history] == [(CHRISTMAS_EVE, False), (CHRISTMAS_EVE, True)]
    assert closed.pk in {r.pk for r in history}
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="controls.closed_day").order_by("id")] == [
        "controls.closed_day.add", "controls.closed_day.remove"]
    # The row of the history names the day to close or open again.
    services.closed_day_add(day=CHRISTMAS_EVE, actor="staff-test")
    services.closed_day_remove(closed_day_id=closed.pk, actor="staff-test")
    assert ClosedDay.objects.count() == 4 and calendar.is_business_day(CHRISTMAS_EVE)


def test_a_yearly_change_is_in_force_from_its_date_and_earlier_days_keep_the_old_calendar(
        monday: time_machine.Coordinates) -> None:
    new_year = dt.date(2027, 1, 1)
    # From 2027 the company also closes on 13 August every year, and works on 29 December.
    services.closed_day_add(day=dt.date(2027, 8, 13), yearly=True, effective_from=new_year, actor="staff-test")
    services.closed_day_remove(day=dt.date(2027, 12, 29), yearly=True, effective_from=new_year, actor="staff-test")
    assert calendar.is_business_day(dt.date(2026, 8, 13))  # a Thursday of the old calendar
    assert not calendar.is_business_day(dt.date(2027, 8, 13))  # a Friday of the new one
    assert not calendar.is_business_day(dt.date(2026, 12, 29))  # the default, in force this year
    assert calendar.is_business_day(dt.date(2027, 12, 29))
    assert not calendar.is_business_day(dt.date(2027, 12, 30))  # the other defaults stay
    # The days ahead are each read by the calendar in force on that day.
    assert dt.date(2026, 12, 29) in services.closed_days_ahead()
    assert dt.date(2027, 8, 13) in services.closed_days_ahead(dt.date(2027, 1, 1))
    assert dt.date(2027, 12, 29) not in services.closed_days_ahead(dt.date(2027, 1, 1))


def test_invoice_dates_read_the_calendar_in_force(monday: time_machine.Coordinates) -> None:
    december = dt.date(2026, 12, 1)
    before = billing_dates(december)
    assert (before.final_on, before.issued_on) == (dt.date(2027, 1, 5), dt.date(2027, 1, 7))
    services.closed_day_add(day=dt.date(2027, 1, 5), actor="staff-test")
    after = billing_dates(december)
    assert (after.final_on, after.issued_on) == (dt.date(2027, 1, 6), dt.date(2027, 1, 8))


@pytest.mark.parametrize(("kw", "code"), [
    ({"day": CHRISTMAS_EVE, "effective_from": dt.date(2026, 12, 6)}, ErrorCode.INVALID_PERIOD),  # in the past
    ({"day": CHRISTMAS_EVE, "effective_from": dt.date(2026, 12, 25)}, ErrorCode.INVALID_PERIOD),  # after the day
    ({"day": dt.date(2026, 12, 1)}, ErrorCode.INVALID_PERIOD),  # a day gone by
    ({"day": dt.date(2026, 12, 30), "yearly": True}, ErrorCode.DUPLICATE),  # closed already (the default)
])
def test_bad_closures_are_refused_and_nothing_is_written(monday: time_machine.Coordinates, kw: dict[str, object],
                                                        code: str) -> None:
    with pytest.raises(DomainError) as caught:
        services.closed_day_add(actor="staff-test", **kw)  # type: ignore[arg-type]
    assert caught.value.code == code and 400 <= caught.value.http_status < 500
    assert not ClosedDay.objects.exists() and not AuditEvent.objects.filter(action__startswith="controls.").exists()


def test_opening_a_day_that_is_not_closed_is_refused(monday: time_machine.Coordinates) -> None:
    with pytest.raises(DomainError) as caught:
        services.closed_day_remove(day=CHRISTMAS_EVE, actor="staff-test")
    assert caught.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(NotFound):
        services.closed_day_remove(closed_day_id=987654, actor="staff-test")
    assert not ClosedDay.objects.exists()


@pytest.fixture
def staff() -> Client:
    user = user_create(tenant=None, username="ops_calendar", password="Staff-password-2026", is_staff=True,
                       is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


def test_back_office_adds_changes_and_keeps_the_history(monday: time_machine.Coordinates, staff: Client) -> None:
    resp = staff.post("/admin/controls/closedday/add/", {"day": "2026-12-24", "closed": "on",
                                                         "effective_from": "2026-12-07", "note": "party"})
    assert resp.status_code == 302, resp.content.decode()[:3000]
    row = ClosedDay.objects.get()
    assert not calendar.is_business_day(CHRISTMAS_EVE)
    assert AuditEvent.objects.filter(action="controls.closed_day.add").count() == 1
    page = staff.get("/admin/controls/closedday/").content.decode()
    assert "2026-12-24" in page and 'id="closed-days-ahead"' in page and "今後12か月の休業日" in page
    # A row of the history cannot be changed or deleted; staff open the day again with a new row.
    assert staff.post(f"/admin/controls/closedday/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    resp = staff.post("/admin/controls/closedday/", {"action": "open_again", "_selected_action": [row.pk]})
    assert resp.status_code == 302
    assert calendar.is_business_day(CHRISTMAS_EVE) and ClosedDay.objects.count() == 2
    # The form refuses what the service refuses: nothing saved.
    resp = staff.post("/admin/controls/closedday/add/", {"day": "2026-12-24", "effective_from": "2026-12-07"})
    assert resp.status_code == 200 and "この日は休業日ではありません。" in resp.content.decode()
    resp = staff.post("/admin/controls/closedday/add/", {"day": "2026-12-24", "closed": "on",
                                                         "effective_from": "2026-12-01"})
    assert resp.status_code == 200 and ClosedDay.objects.count() == 2


def test_operator_cli_closes_opens_and_shows_the_history(monday: time_machine.Coordinates) -> None:
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "closed-day-add", "2027-08-13", "--yearly",
                              "--from", "2027-01-01", "--note", "summer"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["day"] == "08-13" and not calendar.is_business_day(dt.date(2027, 8, 13))
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "closed-day-add", "2026-12-24"],
                        catch_exceptions=False)
    row_id = json.loads(res.stdout)["id"]
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "closed-day-remove", str(row_id)],
                        catch_exceptions=False)
    assert res.exit_code == 0 and json.loads(res.stdout)["closed"] is False
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "closed-days", "--history"],
                        catch_exceptions=False)
    assert [(r["day"], r["closed"], r["effective_from"]) for r in json.loads(res.stdout)] == [
        ("08-13", True, "2027-01-01"), ("2026-12-24", False, "2026-12-07"), ("2026-12-24", True, "2026-12-07")]
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "closed-days"], catch_exceptions=False)
    ahead = [r["day"] for r in json.loads(res.stdout)]
    assert "2026-12-29" in ahead and "2027-08-13" in ahead and "2026-12-24" not in ahead
    res = runner.invoke(app, ["admin", "controls", "closed-day-remove", "2026-12-24"], catch_exceptions=False)
    assert res.exit_code == 1 and "NOT_FOUND" in res.stderr
    res = runner.invoke(app, ["admin", "controls", "closed-day-add", "24/12/2026"], catch_exceptions=False)
    assert res.exit_code == 2 and "VALIDATION_ERROR" in res.stderr
    assert ClosedDay.objects.count() == 3


@pytest.mark.parametrize(("lang", "heading", "opened"), [("ja", "会社の休業日", "再び営業日"),
                                                         ("en", "Closed days of the company calendar", "Opened again")])
def test_customers_see_the_closed_days_and_the_changes(monday: time_machine.Coordinates, lang: str, heading: str,
                                                       opened: str) -> None:
    world = make_world(1)
    services.closed_day_add(day=CHRISTMAS_EVE, actor="staff-test")
    services.closed_day_remove(day=CHRISTMAS_EVE, actor="staff-test", note="internal note")
    services.closed_day_add(day=dt.date(2026, 12, 28), actor="staff-test")
    client = Client()
    client.force_login(world.user)
    client.cookies["django_language"] = lang
    page = client.get("/notices/service/").content.decode()
    assert heading in page and opened in page and "2026-12-28" in page and "internal note" not in page
    body = world.api().get("/api/v1/service").json()
    assert "2026-12-28" in body["closed_days"] and "2026-12-24" not in body["closed_days"]
    assert [(c["day"], c["closed"]) for c in body["calendar_changes"]][:3] == [
        ("2026-12-28", True), ("2026-12-24", False), ("2026-12-24", True)]
