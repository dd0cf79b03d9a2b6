"""Maintenance windows (issue 15 §1, M-AUTH-2, X-OPS): banner before and during, refusals on web, API and
services while a window runs, one tenant only, orders due during a window carried out after it and their
customers told, ending early and extending, bad inputs, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from kaisen.audit.models import AuditEvent
from kaisen.carriers import simulator
from kaisen.controls import functions as fn
from kaisen.controls import services
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.notifications.models import OutboxMessage
from kaisen.procedures import rules
from kaisen.procedures.engine import orders_tick
from kaisen.procedures.models import OrderKind, OrderStatus
from kaisen.procedures.services import order_submit
from tests.conftest import make_world
from tests.procedures.engine_support import make_order

JST = clock.JST
# A business day, inside reception hours (the window tests pin their own moment).
TUESDAY_11 = dt.datetime(2026, 11, 24, 11, 0, tzinfo=JST)


def _window(**kw: Any) -> Any:
    now = clock.now()
    args: dict[str, Any] = {"starts_at": now + dt.timedelta(hours=1), "ends_at": now + dt.timedelta(hours=3),
                            "functions": [fn.PORTAL], "reason_ja": "定期メンテナンス", "reason_en": "Scheduled work",
                            "actor": "staff-test"}
    args.update(kw)
    return services.window_schedule(**args)


def _login(world: Any, lang: str = "en") -> Client:
    client = Client()
    client.force_login(world.user)
    client.cookies["django_language"] = lang
    return client


@pytest.mark.django_db
def test_banner_before_and_during_then_gone_after() -> None:
    with time_machine.travel(TUESDAY_11, tick=False) as t:
        world = make_world(1)
        window = _window(announce_from=TUESDAY_11 - dt.timedelta(hours=1))
        client = _login(world)
        page = client.get("/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "maintenance-banner" in html and "Scheduled maintenance from 2026-11-24 12:00" in html
        assert "is-active" not in html
        api = world.api()
        before = api.get("/api/v1/lines")
        assert before.status_code == 200 and f"id={window.pk};" in before["Kaisen-Maintenance"]

        t.move_to(TUESDAY_11 + dt.timedelta(hours=1, minutes=30))
        during = client.get("/lines/")
        assert during.status_code == 503 and during["Retry-After"] == str(90 * 60)
        assert "The portal: closed for maintenance until 2026-11-24 14:00" in during.content.decode()
        refused = api.get("/api/v1/lines")
        assert refused.status_code == 503 and refused.json()["code"] == ErrorCode.MAINTENANCE
        assert refused["Retry-After"] == str(90 * 60)
        # The back office stays open to staff.
        assert client.get("/admin/login/").status_code in (200, 302)

        t.move_to(TUESDAY_11 + dt.timedelta(hours=3, minutes=1))
        client = _login(world)  # the idle session has ended meanwhile
        after = client.get("/lines/")
        assert after.status_code == 200 and "maintenance-banner" not in after.content.decode()
        assert "Kaisen-Maintenance" not in api.get("/api/v1/lines")


@pytest.mark.django_db
def test_a_window_for_one_tenant_only() -> None:
    a, b = make_world(1), make_world(1)
    with time_machine.travel(TUESDAY_11, tick=False):
        _window(starts_at=TUESDAY_11 - dt.timedelta(minutes=5), tenants=[a.tenant.public_id])
        assert a.api().get("/api/v1/lines").status_code == 503
        assert b.api().get("/api/v1/lines").status_code == 200
        assert _login(a).get("/lines/").status_code == 503
        page_b = _login(b).get("/lines/")
        assert page_b.status_code == 200 and "maintenance-banner" not in page_b.content.decode()


@pytest.mark.django_db
def test_probes_stay_open_and_never_read_the_controls(django_assert_num_queries: Any) -> None:
    """A window closing the whole portal and the API leaves the operations probes open (the load balancer must
    not take every process out), and they do not read the controls: ``/healthz`` makes no query at all."""
    world = make_world(1)
    with time_machine.travel(TUESDAY_11, tick=False):
        _window(starts_at=TUESDAY_11 - dt.timedelta(minutes=5), functions=[fn.PORTAL, fn.API])
        assert world.api().get("/api/v1/lines").status_code == 503  # the window is in force
        services.cache.clear()  # a cold snapshot: reading the controls would cost queries
        client = Client()
        with django_assert_num_queries(0):
            assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and "Kaisen-Maintenance" not in metrics


@pytest.mark.django_db
def test_reads_allowed_keeps_pages_but_refuses_changes() -> None:
    world = make_world(1)
    with time_machine.travel(TUESDAY_11, tick=False):
        _window(starts_at=TUESDAY_11 - dt.timedelta(minutes=5), functions=[fn.STATEMENTS], reads_allowed=True)
        api = world.api()
        assert api.get("/api/v1/statements").status_code == 200
        refused = api.post("/api/v1/statements", {"kind": "line_daily"})
        assert refused.status_code == 503 and refused.json()["code"] == ErrorCode.MAINTENANCE
        assert api.get("/api/v1/lines").status_code == 200  # only statements are closed
        _window(starts_at=TUESDAY_11 - dt.timedelta(minutes=5), functions=[fn.PORTAL], reads_allowed=True)
        assert api.get("/api/v1/lines").status_code == 200
        signed_in = api.client.post("/api/v1/auth", {"key_id": world.api_key.key_id, "secret": world.api_secret},
                                    content_type="application/json")
        assert signed_in.status_code == 200  # signing in is not a change
        tag = api.post("/api/v1/line-tags", {"name": "x", "kind": "department"})
        assert tag.status_code == 503 and tag.json()["code"] == ErrorCode.MAINTENANCE


@pytest.mark.django_db
def test_a_procedure_kind_closed_on_every_interface_others_open() -> None:
    world = make_world(2)
    with time_machine.travel(TUESDAY_11, tick=False):
        _window(starts_at=TUESDAY_11 - dt.timedelta(minutes=5), functions=[fn.procedure(OrderKind.SUSPEND)])
        with pytest.raises(DomainError) as caught:
            order_submit(tenant=world.tenant, user=world.user, line_id=world.line.pk, kind=OrderKind.SUSPEND,
                         params={}, idempotency_key="m-1")
        assert caught.value.code == ErrorCode.MAINTENANCE and caught.value.http_status == 503
        api = world.api()
        resp = api.post(f"/api/v1/lines/{world.line.pk}/orders", {"kind": "suspend", "params": {},
                                                                    "idempotency_key": "m-2"})
        assert resp.status_code == 503 and resp.json()["code"] == ErrorCode.MAINTENANCE and resp["Retry-After"]


@pytest.mark.django_db
def test_an_order_due_during_a_window_runs_after_it_and_the_customer_is_told(settings: Any) -> None:
    settings.KAISEN_CARRIER_DELAY = 60
    simulator.faults.reset()
    world = make_world(1)
    with time_machine.travel(TUESDAY_11, tick=False) as t:
        due = TUESDAY_11 + dt.timedelta(hours=2)
        order = make_order(world.line, OrderKind.SUSPEND, due_at=due)  # accepted earlier, waiting
        window = _window(starts_at=TUESDAY_11 + dt.timedelta(hours=1), ends_at=TUESDAY_11 + dt.timedelta(hours=4),
                         functions=[fn.PROCEDURES])
        t.move_to(due)
        report = orders_tick()
        order.refresh_from_db()
        assert report.sent == 0 and report.postponed == 1
        assert order.status == OrderStatus.SCHEDULED and order.due_at == window.ends_at
        mail = OutboxMessage.objects.get(order=order, topic=rules.DELAYED)
        assert "2026年11月24日 15:00" in mail.body and "定期メンテナンス" in mail.body
        assert orders_tick().sent == 0  # not picked again before the end
        t.move_to(window.ends_at + dt.timedelta(seconds=1))
        assert orders_tick().sent == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.SENT
        assert OutboxMessage.objects.filter(order=order, topic=rules.DELAYED).count() == 1


@pytest.mark.django_db
def test_extend_moves_the_postponed_order_and_end_early_reopens() -> None:
    world = make_world(1)
    with time_machine.travel(TUESDAY_11, tick=False):
        window = _window(starts_at=TUESDAY_11 - dt.timedelta(minutes=1), functions=[fn.PORTAL])
        later = TUESDAY_11 + dt.timedelta(hours=6)
        services.window_extend(window_id=window.pk, ends_at=later, actor="staff-test")
        refusal = services.maintenance_refusal(fn.API, world.tenant.pk)
        assert refusal is not None and refusal.details["until"] == later.isoformat()
        services.window_end(window_id=window.pk, actor="staff-test")
        assert services.maintenance_refusal(fn.API, world.tenant.pk) is None
        assert world.api().get("/api/v1/lines").status_code == 200
        actions = list(AuditEvent.objects.filter(action__startswith="controls.window").values_list("action", flat=True))
        assert sorted(actions) == ["controls.window.end", "controls.window.extend", "controls.window.schedule"]
        with pytest.raises(DomainError) as caught:
            services.window_extend(window_id=window.pk, ends_at=later, actor="staff-test")
        assert caught.value.code == ErrorCode.WINDOW_NOT_CHANGEABLE


@pytest.mark.django_db
def test_a_future_window_ended_is_cancelled() -> None:
    window = _window()
    services.window_end(window_id=window.pk, actor="staff-test")
    window.refresh_from_db()
    assert window.cancelled_at is not None
    assert services.announced_windows(None) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "code"), [
    ({"ends_at_delta": -2}, ErrorCode.INVALID_PERIOD),  # end before start
    ({"functions": ["nonsense"]}, ErrorCode.UNKNOWN_FUNCTION),
    ({"functions": []}, ErrorCode.UNKNOWN_FUNCTION),
    ({"reason_en": "  "}, ErrorCode.VALIDATION_ERROR),
    ({"tenants": ["ZZ-NOPE"]}, ErrorCode.NOT_FOUND),
])
def test_bad_window_input_is_refused_with_a_code_and_nothing_written(change: dict[str, Any], code: str) -> None:
    from kaisen.controls.models import MaintenanceWindow

    kw: dict[str, Any] = dict(change)
    if "ends_at_delta" in kw:
        kw["ends_at"] = clock.now() + dt.timedelta(hours=kw.pop("ends_at_delta"))
        kw["starts_at"] = clock.now() + dt.timedelta(hours=1)
    with pytest.raises(DomainError) as caught:
        _window(**kw)
    assert caught.value.code == code and 400 <= caught.value.http_status < 500
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.django_db
def test_login_page_shows_the_banner_for_all_tenant_windows() -> None:
    _window()
    page = Client().get("/login/")
    assert page.status_code == 200
    assert "メンテナンス" in page.content.decode() and "定期メンテナンス" in page.content.decode()


@pytest.mark.django_db
def test_the_line_page_shows_a_closed_procedure_as_unavailable_with_the_return_time() -> None:
    with time_machine.travel(TUESDAY_11, tick=False):
        world = make_world(1)
        _window(starts_at=TUESDAY_11 - dt.timedelta(minutes=5), functions=[fn.procedure(OrderKind.SUSPEND)])
        page = _login(world).get(f"/lines/{world.line.pk}/")
        assert page.status_code == 200  # the page itself stays up
        assert "Suspend: closed for maintenance until 2026-11-24 14:00" in page.content.decode()
