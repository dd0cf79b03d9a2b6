"""Notices (issue 15 §3) and service switches per tenant (issue 15 §4, M-AUTH-3), with the cross-tenant rules:
a notice for tenant A is not visible to B (web, API); a switch for A does not affect B."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from kaisen.audit.models import AuditEvent
from kaisen.controls import functions as fn
from kaisen.controls import services
from kaisen.controls.models import Notice
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.notifications.models import OutboxMessage
from kaisen.procedures.models import OrderKind
from kaisen.procedures.services import order_submit, procedures_for_line
from tests.conftest import make_world

JST = clock.JST
TUESDAY_11 = dt.datetime(2026, 11, 24, 11, 0, tzinfo=JST)


def _notice(**kw: Any) -> Notice:
    args: dict[str, Any] = {"title_ja": "料金改定のお知らせ", "title_en": "New prices", "body_ja": "本文です。",
                            "body_en": "The text.", "actor": "staff-test"}
    args.update(kw)
    return services.notice_publish(**args)


def _web(world: Any, lang: str = "en") -> Client:
    client = Client()
    client.force_login(world.user)
    client.cookies["django_language"] = lang
    return client


@pytest.mark.django_db
def test_notice_for_one_tenant_is_not_visible_to_another_web_and_api() -> None:
    a, b = make_world(1), make_world(1)
    notice = _notice(tenants=[a.tenant.public_id])
    assert "New prices" in _web(a).get("/notices/").content.decode()
    assert "New prices" not in _web(b).get("/notices/").content.decode()
    assert _web(b).get(f"/notices/{notice.pk}/").status_code == 404
    assert [n["id"] for n in a.api().get("/api/v1/notices").json()["items"]] == [notice.pk]
    assert b.api().get("/api/v1/notices").json()["items"] == []
    missing = b.api().get(f"/api/v1/notices/{notice.pk}")
    assert missing.status_code == 404 and missing.json()["code"] == ErrorCode.NOT_FOUND


@pytest.mark.django_db
def test_unread_count_in_the_header_and_reading_clears_it() -> None:
    world = make_world(1)
    first, _second = _notice(), _notice(title_en="Second")
    client = _web(world)
    home = client.get("/").content.decode()
    assert 'id="notices-unread"' in home and ">2</span>" in home
    assert "New prices" in home  # listed on the home page
    assert world.api().get("/api/v1/notices").json()["unread"] == 2
    detail = client.get(f"/notices/{first.pk}/")
    assert detail.status_code == 200 and "The text." in detail.content.decode()
    assert world.api().get("/api/v1/notices").json()["unread"] == 1
    assert world.api().get(f"/api/v1/notices/{_second.pk}").json()["is_read"] is True
    assert 'id="notices-unread"' not in client.get("/").content.decode()


@pytest.mark.django_db
def test_japanese_and_english() -> None:
    world = make_world(1)
    notice = _notice()
    assert "料金改定のお知らせ" in _web(world, "ja").get("/notices/").content.decode()
    assert 'title="お知らせ"' in _web(world, "ja").get("/").content.decode()  # the header link
    resp = world.api().client.get(f"/api/v1/notices/{notice.pk}", headers={
        "Authorization": f"Bearer {world.token}", "Accept-Language": "en"})
    assert resp.json()["title"] == "New prices"


@pytest.mark.django_db
def test_notice_period() -> None:
    world = make_world(1)
    later = _notice(starts_at=clock.now() + dt.timedelta(days=1), ends_at=clock.now() + dt.timedelta(days=2))
    assert world.api().get("/api/v1/notices").json()["items"] == []
    with time_machine.travel(clock.now() + dt.timedelta(days=1, hours=1)):
        assert [n["id"] for n in world.api_now().get("/api/v1/notices").json()["items"]] == [later.pk]
    services.notice_withdraw(notice_id=later.pk, actor="staff-test")
    with time_machine.travel(clock.now() + dt.timedelta(days=1, hours=1)):
        assert world.api_now().get("/api/v1/notices").json()["items"] == []


@pytest.mark.django_db
def test_important_notice_is_mailed_to_the_tenants_contacts_normal_one_is_not() -> None:
    a, b = make_world(1), make_world(1)
    _notice()
    assert not OutboxMessage.objects.filter(topic__startswith="notice").exists()
    important = _notice(importance="important", tenants=[a.tenant.public_id])
    mails = list(OutboxMessage.objects.filter(topic=f"notice:{important.pk}"))
    assert len(mails) == 1 and mails[0].tenant_id == a.tenant.pk
    assert set(mails[0].to) == {a.tenant.contact_email, a.tenant.notification_email}
    assert "料金改定のお知らせ" in mails[0].subject and "New prices" in mails[0].body
    assert b.tenant.contact_email not in mails[0].to
    assert AuditEvent.objects.filter(action="controls.notice.publish").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("kw", "code"), [
    ({"importance": "urgent"}, ErrorCode.VALIDATION_ERROR),
    ({"title_en": ""}, ErrorCode.VALIDATION_ERROR),
    ({"starts_at_delta": 2, "ends_at_delta": 1}, ErrorCode.INVALID_PERIOD),
    ({"tenants": ["NO-SUCH"]}, ErrorCode.NOT_FOUND),
])
def test_bad_notice_input(kw: dict[str, Any], code: str) -> None:
    if "starts_at_delta" in kw:
        kw["starts_at"] = clock.now() + dt.timedelta(days=kw.pop("starts_at_delta"))
        kw["ends_at"] = clock.now() + dt.timedelta(days=kw.pop("ends_at_delta"))
    with pytest.raises(DomainError) as caught:
        _notice(**kw)
    assert caught.value.code == code
    assert not Notice.objects.exists()


# --- service switches ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_switch_off_mnp_for_one_tenant_only() -> None:
    a, b = make_world(1), make_world(1)
    services.switch_set(tenant=a.tenant, function=fn.SWITCH_MNP_PORT_IN, enabled=False, actor="staff-test")
    page_a = _web(a).get("/procedures/mnp/")
    assert page_a.status_code == 200
    assert "MNP port-in is not available under your contract." in page_a.content.decode()
    page_b = _web(b).get("/procedures/mnp/")
    assert page_b.status_code == 200 and "not available under your contract" not in page_b.content.decode()
    assert AuditEvent.objects.filter(action="controls.switch.set", tenant=a.tenant).count() == 1
    refused = a.api().get("/api/v1/mnp/waiting")
    assert refused.status_code == 403 and refused.json()["code"] == ErrorCode.NOT_IN_CONTRACT
    assert b.api().get("/api/v1/mnp/waiting").status_code == 200


@pytest.mark.django_db
def test_switch_off_voice_options_refused_with_its_own_code_everywhere() -> None:
    a, b = make_world(1), make_world(1)
    services.switch_set(tenant=a.tenant.public_id, function=fn.SWITCH_VOICE_OPTIONS, enabled=False,
                        actor="staff-test")
    with time_machine.travel(TUESDAY_11, tick=False):
        options = {o.kind: o for o in procedures_for_line(tenant=a.tenant, user=a.user, line=a.line)}
        assert not options[OrderKind.VOICE_OPTIONS].available
        assert options[OrderKind.VOICE_OPTIONS].code == ErrorCode.NOT_IN_CONTRACT
        assert options[OrderKind.SUSPEND].code != ErrorCode.NOT_IN_CONTRACT
        others = {o.kind: o for o in procedures_for_line(tenant=b.tenant, user=b.user, line=b.line)}
        assert others[OrderKind.VOICE_OPTIONS].code != ErrorCode.NOT_IN_CONTRACT
        with pytest.raises(DomainError) as caught:
            order_submit(tenant=a.tenant, user=a.user, line_id=a.line.pk, kind=OrderKind.VOICE_OPTIONS,
                         params={"effective": "today", "options": {"voicemail": True}}, idempotency_key="s-1")
        assert caught.value.code == ErrorCode.NOT_IN_CONTRACT
        resp = a.api_now().post(f"/api/v1/lines/{a.line.pk}/orders/preview",
                                {"kind": "voice_options", "params": {"effective": "today"}})
        assert resp.status_code == 403 and resp.json()["code"] == ErrorCode.NOT_IN_CONTRACT
    switches = {s["function"]: s["enabled"] for s in a.api().get("/api/v1/service").json()["switches"]}
    assert switches["voice_options"] is False and switches["mnp_port_in"] is True
    assert switches["quote_calculator"] is True  # the portal quote calculator (kaisen.goods)
    assert {s["function"]: s["enabled"] for s in b.api().get("/api/v1/service").json()["switches"]}[
        "voice_options"] is True


@pytest.mark.django_db
def test_switch_off_shift_jis_statements() -> None:
    a, b = make_world(1), make_world(1)
    services.switch_set(tenant=a.tenant, function=fn.SWITCH_STATEMENTS_SHIFT_JIS, enabled=False, actor="staff-test")
    with time_machine.travel(TUESDAY_11, tick=False):  # not the 1st or the last day of a month
        cp932 = {"kind": "billing_detail", "encoding": "cp932", "month": "2026-10"}
        refused = a.api_now().post("/api/v1/statements", cp932)
        assert refused.status_code == 403 and refused.json()["code"] == ErrorCode.NOT_IN_CONTRACT
        assert refused.json()["field"] == "encoding"
        ok = a.api_now().post("/api/v1/statements", {**cp932, "encoding": "utf-8"})
        assert ok.status_code == 201, ok.json()
        other = b.api_now().post("/api/v1/statements", cp932)
        assert other.status_code == 201, other.json()


@pytest.mark.django_db
def test_unknown_switch_is_refused() -> None:
    world = make_world(1)
    with pytest.raises(DomainError) as caught:
        services.switch_set(tenant=world.tenant, function="teleport", enabled=False, actor="staff-test")
    assert caught.value.code == ErrorCode.UNKNOWN_FUNCTION


def test_the_procedure_kinds_named_here_are_the_procedures() -> None:
    assert set(fn.PROCEDURE_KINDS) == set(OrderKind.values)
    assert set(fn.SWITCH_OF_KIND) <= set(OrderKind.values)
