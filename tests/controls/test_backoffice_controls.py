"""The back office of the operator controls (issue 15): staff schedule a window, set hours, publish a notice
and switch a function off in /admin/; the change is audited and in force at once; bad input is refused by
the form, nothing saved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from kaisen.accounts.services import user_create
from kaisen.audit.models import AuditEvent
from kaisen.controls import functions as fn
from kaisen.controls import services
from kaisen.controls.models import MaintenanceWindow, Notice, ReceptionHours
from kaisen.core import calendar, clock
from kaisen.notifications.models import OutboxMessage
from tests.conftest import make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = user_create(tenant=None, username="ops_staff", password="Staff-password-2026", is_staff=True,
                       is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


def _local(at: dt.datetime) -> dict[str, str]:
    local = at.astimezone(clock.JST)
    return {"0": f"{local:%Y-%m-%d}", "1": f"{local:%H:%M:%S}"}


def _split(name: str, at: dt.datetime) -> dict[str, str]:
    parts = _local(at)
    return {f"{name}_0": parts["0"], f"{name}_1": parts["1"]}


def test_staff_schedule_a_window_for_one_tenant_in_the_back_office(staff: Client) -> None:
    a, b = make_world(1), make_world(1)
    now = clock.now()
    data = {**_split("starts_at", now - dt.timedelta(minutes=1)), **_split("ends_at", now + dt.timedelta(hours=1)),
            "functions": [fn.API], "tenants": [a.tenant.pk], "reason_ja": "工事", "reason_en": "Works"}
    resp = staff.post("/admin/controls/maintenancewindow/add/", data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    window = MaintenanceWindow.objects.get()
    assert window.announce_from == window.starts_at - services.DEFAULT_ANNOUNCE
    assert AuditEvent.objects.filter(action="admin.maintenancewindow.create").exists()
    assert a.api().get("/api/v1/lines").status_code == 503  # in force at once
    assert b.api().get("/api/v1/lines").status_code == 200
    # End it with the admin action.
    resp = staff.post("/admin/controls/maintenancewindow/", {"action": "end_now", "_selected_action": [window.pk]})
    assert resp.status_code == 302
    assert a.api().get("/api/v1/lines").status_code == 200
    assert AuditEvent.objects.filter(action="controls.window.end").exists()


def test_end_before_start_is_refused_by_the_form(staff: Client) -> None:
    now = clock.now()
    data = {**_split("starts_at", now + dt.timedelta(hours=2)), **_split("ends_at", now + dt.timedelta(hours=1)),
            "functions": [fn.PORTAL], "all_tenants": "on", "reason_ja": "工事", "reason_en": "Works"}
    resp = staff.post("/admin/controls/maintenancewindow/add/", data)
    assert resp.status_code == 200 and "終了は開始より後にしてください。" in resp.content.decode()
    assert not MaintenanceWindow.objects.exists()
    resp = staff.post("/admin/controls/maintenancewindow/add/", {**data, "functions": ["teleport"],
                                                                 **_split("ends_at", now + dt.timedelta(hours=3))})
    assert resp.status_code == 200 and not MaintenanceWindow.objects.exists()


def test_staff_set_hours_and_publish_an_important_notice(staff: Client) -> None:
    world = make_world(1)
    resp = staff.post("/admin/controls/receptionhours/add/", {
        "function": "", "opens": "08:00", "closes": "20:59", **_split("effective_from", clock.now())})
    assert resp.status_code == 302, resp.content.decode()[:3000]
    assert calendar.reception_window("suspend").label() == "08:00–20:59"
    assert ReceptionHours.objects.count() == 1
    # Hours are a history: a row cannot be changed or deleted.
    row = ReceptionHours.objects.get()
    assert staff.post(f"/admin/controls/receptionhours/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    resp = staff.post("/admin/controls/notice/add/", {
        "title_ja": "重要なお知らせ", "title_en": "Important", "body_ja": "本文", "body_en": "Text",
        "importance": "important", **_split("starts_at", clock.now()), "all_tenants": "on"})
    assert resp.status_code == 302, resp.content.decode()[:3000]
    notice = Notice.objects.get()
    assert notice.mailed_at is not None
    assert OutboxMessage.objects.filter(topic=f"notice:{notice.pk}", tenant=world.tenant).exists()
    resp = staff.post("/admin/controls/serviceswitch/add/", {"tenant": world.tenant.pk, "function": "voice_options",
                                                              "note": "carrier outage"})
    assert resp.status_code == 302
    assert not services.switch_enabled(world.tenant.pk, fn.SWITCH_VOICE_OPTIONS)


def test_an_ended_window_is_history_and_a_new_end_must_be_in_the_future(staff: Client) -> None:
    now = clock.now()
    running = services.window_schedule(starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=1),
                                       functions=[fn.STATEMENTS], reason_ja="工事", reason_en="Works", actor="t")
    form = {**_split("starts_at", running.starts_at), **_split("announce_from", running.announce_from),
            "functions": [fn.STATEMENTS], "all_tenants": "on", "reason_ja": "工事", "reason_en": "Works"}
    # Ending it in the past through the form is refused (the services refuse it too); nothing changes.
    resp = staff.post(f"/admin/controls/maintenancewindow/{running.pk}/change/",
                      {**form, **_split("ends_at", now - dt.timedelta(minutes=30))})
    assert resp.status_code == 200 and "メンテナンスの終了は現在より後にしてください。" in resp.content.decode()
    running.refresh_from_db()
    assert running.ends_at > now
    # Extending it is a change, audited.
    resp = staff.post(f"/admin/controls/maintenancewindow/{running.pk}/change/",
                      {**form, **_split("ends_at", now + dt.timedelta(hours=3))})
    assert resp.status_code == 302, resp.content.decode()[:3000]
    assert AuditEvent.objects.filter(action="admin.maintenancewindow.update").exists()
    # Once ended, the back office shows it but does not change it.
    services.window_end(window_id=running.pk, actor="t")
    ended_at = MaintenanceWindow.objects.get(pk=running.pk).ends_at
    resp = staff.post(f"/admin/controls/maintenancewindow/{running.pk}/change/",
                      {**form, **_split("ends_at", now + dt.timedelta(hours=5))})
    assert resp.status_code == 403
    assert MaintenanceWindow.objects.get(pk=running.pk).ends_at == ended_at
