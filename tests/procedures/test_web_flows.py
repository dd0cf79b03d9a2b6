"""The line procedure pages (M-MNP-1..2, M-LINE-1, M-PROC-1..7) through Django's test client: every flow
input → confirm → complete makes exactly one order, a resubmitted confirm makes no second one, "back"
keeps the input, refusals are shown on the page, and another tenant's line or order is a 404."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse

from kaisen.carriers.models import Carrier
from kaisen.lines.models import Line, LineStatus, SimSize, SimType
from kaisen.procedures.models import Order, OrderKind, OrderStatus
from tests.conftest import TenantWorld
from tests.factories import PlanFactory
from tests.procedures.procedure_kit import complete, jst, make_line, submit

pytestmark = pytest.mark.django_db

#: A Tuesday morning inside reception hours (9:00–19:59 JST).
OPEN = jst(2026, 11, 24, 10, 0)
TODAY = OPEN.date()


def session(world: TenantWorld, lang: str = "en") -> Client:
    client = Client()
    client.force_login(world.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client


def key_of(response: Any) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode())
    assert match, "the input page carries an idempotency key"
    return match.group(1)


def url(kind: str, line: Line) -> str:
    return reverse(f"procedures:{kind}", kwargs={"line_id": line.pk})


def line_for(world: TenantWorld, kind: str) -> Line:
    """A line on which ``kind`` is possible, and the form data of a valid application."""
    if kind == OrderKind.MNP_ACTIVATION:
        return make_line(world, status=LineStatus.NOT_ACTIVATED, mnp_port_in_pending=True,
                         shipped_on=TODAY - dt.timedelta(days=2), mnp_port_in_expires_on=TODAY + dt.timedelta(days=5))
    if kind == OrderKind.RESUME:
        return make_line(world, status=LineStatus.SUSPENDED)
    if kind in (OrderKind.VOICE_OPTIONS, OrderKind.MNP_RESERVATION):
        return make_line(world, sim_type=SimType.VOICE, voice_options={
            "flat_rate_calling": False, "voicemail": False, "call_waiting": True, "call_forwarding": False,
            "international_call_cap": 0, "international_roaming_cap": 0, "network_pin": "1234"})
    return make_line(world)


def form_data(kind: str, line: Line) -> dict[str, str]:
    if kind == OrderKind.MNP_ACTIVATION:
        return {"activation_date": TODAY.isoformat()}
    if kind == OrderKind.VOICE_OPTIONS:
        return {"flat_rate_calling": "0", "voicemail": "1", "call_waiting": "1", "call_forwarding": "0",
                "international_call_cap": "20000", "international_roaming_cap": "0", "network_pin": "",
                "effective": "next_month"}
    if kind == OrderKind.PLAN_CHANGE:
        bigger = PlanFactory(code="DOCOMO-BIG", carrier=Carrier.DOCOMO, data_allowance_mb=20480, monthly_fee=1980)
        return {"plan_code": bigger.code}
    if kind == OrderKind.SIM_REISSUE:
        return {"method": "ship", "sim_size": str(SimSize.MICRO),
                "ship_date": (TODAY + dt.timedelta(days=3)).isoformat()}
    if kind == OrderKind.MNP_RESERVATION:
        return {"holder_name": "株式会社テスト", "holder_name_kana": "ｶﾌﾞｼｷｶﾞｲｼｬﾃｽﾄ"}
    if kind == OrderKind.CANCELLATION:
        return {"end_date": (TODAY + dt.timedelta(days=10)).isoformat()}
    return {}


@pytest.fixture
def at_open():  # type: ignore[no-untyped-def]
    with time_machine.travel(OPEN, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize("kind", list(OrderKind.values))
def test_every_flow_input_confirm_complete_makes_one_order_m_proc_7(tenant_a: TenantWorld, at_open: Any,
                                                                    kind: str) -> None:
    line = line_for(tenant_a, kind)
    client = session(tenant_a)
    page = client.get(url(kind, line))
    assert page.status_code == 200
    data = {**form_data(kind, line), "idempotency_key": key_of(page)}

    confirm = client.post(url(kind, line), {**data, "step": "confirm"})
    assert confirm.status_code == 200, confirm.content.decode()[:3000]
    text = confirm.content.decode()
    assert 'value="submit"' in text and 'value="back"' in text
    assert Order.objects.filter(line=line).count() == 0, "the confirm page writes nothing"

    done = client.post(url(kind, line), {**data, "step": "submit"})
    assert done.status_code == 302
    order = Order.objects.get(line=line)
    assert order.kind == kind and order.status == OrderStatus.SCHEDULED
    assert done["Location"] == reverse("procedures:complete", kwargs={"order_id": order.pk})
    complete_page = client.get(done["Location"])
    assert complete_page.status_code == 200
    assert f'id="order-number">{order.pk}<' in complete_page.content.decode()

    # The browser resends the confirm POST (double click, reload): the same order, not a second one.
    again = client.post(url(kind, line), {**data, "step": "submit"})
    assert again.status_code == 302 and again["Location"] == done["Location"]
    assert Order.objects.filter(line=line).count() == 1


def test_mnp_reservation_converts_half_width_kana_m_proc_5(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.MNP_RESERVATION)
    client = session(tenant_a)
    key = key_of(client.get(url(OrderKind.MNP_RESERVATION, line)))
    data = {**form_data(OrderKind.MNP_RESERVATION, line), "idempotency_key": key}
    confirm = client.post(url(OrderKind.MNP_RESERVATION, line), {**data, "step": "confirm"})
    assert "カブシキガイシャテスト" in confirm.content.decode()
    client.post(url(OrderKind.MNP_RESERVATION, line), {**data, "step": "submit"})
    order = Order.objects.get(line=line)
    assert order.params["holder_name_kana"] == "カブシキガイシャテスト"
    assert order.params["category"] == "corporate"


def test_non_katakana_name_is_shown_next_to_the_field(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.MNP_RESERVATION)
    client = session(tenant_a)
    key = key_of(client.get(url(OrderKind.MNP_RESERVATION, line)))
    response = client.post(url(OrderKind.MNP_RESERVATION, line), {
        "holder_name": "株式会社テスト", "holder_name_kana": "かぶしきがいしゃ", "idempotency_key": key,
        "step": "confirm"})
    assert response.status_code == 400
    assert "katakana" in response.content.decode()
    assert not Order.objects.filter(line=line).exists()


def test_back_keeps_the_input_m_proc_7(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.CANCELLATION)
    client = session(tenant_a)
    key = key_of(client.get(url(OrderKind.CANCELLATION, line)))
    end = (TODAY + dt.timedelta(days=40)).isoformat()
    confirm = client.post(url(OrderKind.CANCELLATION, line), {"end_date": end, "idempotency_key": key,
                                                              "step": "confirm"})
    assert f'value="{end}"' in confirm.content.decode(), "the confirm page carries the input"
    back = client.post(url(OrderKind.CANCELLATION, line), {"end_date": end, "idempotency_key": key, "step": "back"})
    assert back.status_code == 200
    text = back.content.decode()
    assert f'name="end_date" value="{end}"' in text
    assert key_of(back) == key, "the same application keeps its idempotency key"
    assert not Order.objects.filter(line=line).exists()


def test_voice_options_back_keeps_every_choice(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.VOICE_OPTIONS)
    client = session(tenant_a)
    key = key_of(client.get(url(OrderKind.VOICE_OPTIONS, line)))
    data = {**form_data(OrderKind.VOICE_OPTIONS, line), "idempotency_key": key}
    back = client.post(url(OrderKind.VOICE_OPTIONS, line), {**data, "step": "back"}).content.decode()
    assert re.search(r'name="voicemail" value="1" id="[^"]+" checked', back)
    assert re.search(r'<option value="20000" selected>', back)
    assert re.search(r'name="effective" value="next_month" id="[^"]+" checked', back)


def test_outside_reception_hours_is_a_clear_message_not_a_500_m_auth_2(tenant_a: TenantWorld) -> None:
    line = line_for(tenant_a, OrderKind.SUSPEND)
    client = session(tenant_a)
    with time_machine.travel(jst(2026, 11, 24, 19, 59), tick=False):
        key = key_of(client.get(url(OrderKind.SUSPEND, line)))
    with time_machine.travel(jst(2026, 11, 24, 20, 0), tick=False):
        page = client.get(url(OrderKind.SUSPEND, line))
        assert page.status_code == 200
        assert "Reception opens again at 2026-11-25 09:00" in page.content.decode()
        response = client.post(url(OrderKind.SUSPEND, line), {"idempotency_key": key, "step": "confirm"})
        assert response.status_code == 400
        assert "Reception opens again at 2026-11-25 09:00" in response.content.decode()
        # Also when the confirm page was drawn before 20:00 and submitted after.
        response = client.post(url(OrderKind.SUSPEND, line), {"idempotency_key": key, "step": "submit"})
        assert response.status_code == 400
        assert "Reception opens again" in response.content.decode()
    assert not Order.objects.filter(line=line).exists()


def test_a_procedure_the_line_cannot_have_shows_why_and_no_form(tenant_a: TenantWorld, at_open: Any) -> None:
    line = make_line(tenant_a, status=LineStatus.CANCELLED)
    page = session(tenant_a).get(url(OrderKind.SUSPEND, line))
    assert page.status_code == 200
    text = page.content.decode()
    assert "The line is cancelled." in text
    assert 'name="step"' not in text


def test_bad_date_is_refused_on_the_input_page(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.SIM_REISSUE)
    client = session(tenant_a)
    key = key_of(client.get(url(OrderKind.SIM_REISSUE, line)))
    response = client.post(url(OrderKind.SIM_REISSUE, line), {
        "method": "ship", "sim_size": SimSize.NANO, "ship_date": (TODAY + dt.timedelta(days=8)).isoformat(),
        "idempotency_key": key, "step": "confirm"})
    assert response.status_code == 400
    assert "Choose a ship date from" in response.content.decode()


def test_same_key_other_values_starts_again_with_a_fresh_key(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.CANCELLATION)
    client = session(tenant_a)
    key = key_of(client.get(url(OrderKind.CANCELLATION, line)))
    client.post(url(OrderKind.CANCELLATION, line), {"end_date": "2026-11-30", "idempotency_key": key, "step": "submit"})
    other = client.post(url(OrderKind.CANCELLATION, line), {"end_date": "2026-12-31", "idempotency_key": key,
                                                            "step": "submit"})
    assert other.status_code == 409
    assert "already submitted" in other.content.decode()
    assert key_of(other) != key
    assert Order.objects.filter(line=line).count() == 1


def _cancel_links(client: Client, line: Line) -> list[str]:
    page = client.get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    return re.findall(r'href="(/procedures/orders/\d+/cancel/)"', page)


def test_cancel_button_only_while_allowed_and_cancel_flow_m_proc_2(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.VOICE_OPTIONS)
    order = submit(tenant_a, line, OrderKind.VOICE_OPTIONS, {"effective": "next_month", "options": {"voicemail": True}})
    client = session(tenant_a)
    cancel_url = reverse("procedures:order_cancel", kwargs={"order_id": order.pk})
    assert _cancel_links(client, line) == [cancel_url]
    detail = client.get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    assert "Pending changes" in detail and "2026-12-01" in detail

    # The day before the change (until 23:59:59) it can still be cancelled; on the day itself, no more.
    # (A new sign-in after each jump: days idle end a session.)
    at_open.move_to(jst(2026, 11, 30, 19, 0))
    assert _cancel_links(session(tenant_a), line) == [cancel_url]
    at_open.move_to(jst(2026, 12, 1, 10, 0))
    client = session(tenant_a)
    assert _cancel_links(client, line) == []
    refused = client.post(cancel_url)
    assert refused.status_code == 409
    order.refresh_from_db()
    assert order.status != OrderStatus.CANCELLED


def test_cancel_confirm_then_complete(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.PLAN_CHANGE)
    small = PlanFactory(code="DOCOMO-SMALL", carrier=Carrier.DOCOMO, data_allowance_mb=1024)
    order = submit(tenant_a, line, OrderKind.PLAN_CHANGE, {"plan_code": small.code})
    client = session(tenant_a)
    cancel_url = reverse("procedures:order_cancel", kwargs={"order_id": order.pk})
    confirm = client.get(cancel_url)
    assert confirm.status_code == 200 and "<form" in confirm.content.decode()
    done = client.post(cancel_url)
    assert done.status_code == 302
    assert done["Location"] == reverse("procedures:cancelled", kwargs={"order_id": order.pk})
    assert client.get(done["Location"]).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    # Resubmitting the cancel form is harmless.
    assert client.post(cancel_url)["Location"] == done["Location"]


def test_withdrawing_a_cancellation_m_proc_6(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.CANCELLATION)
    order = submit(tenant_a, line, OrderKind.CANCELLATION, {"end_date": "2026-11-30"})
    client = session(tenant_a)
    detail = client.get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    assert "Withdraw the cancellation" in detail
    client.post(reverse("procedures:order_cancel", kwargs={"order_id": order.pk}))
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert line.scheduled_end_on is None


def test_another_tenants_line_and_order_are_404_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld,
                                                    at_open: Any) -> None:
    b_line = line_for(tenant_b, OrderKind.CANCELLATION)
    b_order = submit(tenant_b, b_line, OrderKind.CANCELLATION, {"end_date": "2026-11-30"})
    client = session(tenant_a)
    for kind in OrderKind.values:
        assert client.get(url(kind, b_line)).status_code == 404
        assert client.post(url(kind, b_line), {"step": "submit", "idempotency_key": "x"}).status_code == 404
    for name in ("order_detail", "complete", "order_cancel", "cancelled"):
        target = reverse(f"procedures:{name}", kwargs={"order_id": b_order.pk})
        assert client.get(target).status_code == 404, name
        assert client.post(target).status_code == 404, name
    assert client.get(reverse("procedures:line_card", kwargs={"line_id": b_line.pk})).status_code == 404
    b_order.refresh_from_db()
    assert b_order.status == OrderStatus.SCHEDULED
    assert Order.objects.filter(tenant=tenant_a.tenant).count() == 0


def test_pending_panel_polls_and_reloads_when_a_change_lands(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.SUSPEND)
    order = submit(tenant_a, line, OrderKind.SUSPEND)
    client = session(tenant_a)
    detail = client.get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="every 10s"', detail)
    assert poll, "the panel polls while a change is pending"
    poll_url = poll.group(1).replace("&amp;", "&")
    unchanged = client.get(poll_url, headers={"HX-Request": "true"})
    assert unchanged.status_code == 204
    complete(order)
    landed = client.get(poll_url, headers={"HX-Request": "true"})
    assert landed.status_code == 204 and landed["HX-Refresh"] == "true"
    after = client.get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    assert 'hx-trigger="every 10s"' not in after, "nothing pending: no more polling"
    line.refresh_from_db()
    assert line.status == LineStatus.SUSPENDED


def test_mnp_waiting_list_m_mnp_1(tenant_a: TenantWorld, at_open: Any) -> None:
    shipped = line_for(tenant_a, OrderKind.MNP_ACTIVATION)
    waiting = make_line(tenant_a, status=LineStatus.NOT_ACTIVATED, mnp_port_in_pending=True, shipped_on=None,
                        mnp_port_in_expires_on=TODAY + dt.timedelta(days=9))
    client = session(tenant_a)
    page = client.get(reverse("procedures:mnp_waiting"))
    text = page.content.decode()
    assert page.status_code == 200
    for line in (shipped, waiting):
        assert line.iccid in text
    assert "Not shipped yet" in text and (TODAY + dt.timedelta(days=9)).isoformat() in text
    assert text.count('value="confirm" class="btn btn-sm btn-primary nowrap" disabled') == 1
    # The row's button goes straight to the confirm page with the chosen date.
    keys = re.findall(r'name="idempotency_key" value="([^"]+)"', text)
    confirm = client.post(url(OrderKind.MNP_ACTIVATION, shipped), {
        "activation_date": (TODAY + dt.timedelta(days=1)).isoformat(), "idempotency_key": keys[0],
        "step": "confirm"})
    assert confirm.status_code == 200
    assert "SIM becomes void" in confirm.content.decode()


def test_order_list_filters_and_detail_with_history(tenant_a: TenantWorld, at_open: Any) -> None:
    suspend_line = line_for(tenant_a, OrderKind.SUSPEND)
    cancel_line = line_for(tenant_a, OrderKind.CANCELLATION)
    suspended = complete(submit(tenant_a, suspend_line, OrderKind.SUSPEND))
    pending = submit(tenant_a, cancel_line, OrderKind.CANCELLATION, {"end_date": "2026-12-31"})
    client = session(tenant_a)
    listing = client.get(reverse("procedures:order_list")).content.decode()
    for order in (suspended, pending):
        assert reverse("procedures:order_detail", kwargs={"order_id": order.pk}) in listing
    only = client.get(reverse("procedures:order_list"), {"kind": "cancellation"}).content.decode()
    assert reverse("procedures:order_detail", kwargs={"order_id": suspended.pk}) not in only
    assert reverse("procedures:order_detail", kwargs={"order_id": pending.pk}) in only
    only = client.get(reverse("procedures:order_list"), {"status": "completed"}).content.decode()
    assert reverse("procedures:order_detail", kwargs={"order_id": pending.pk}) not in only
    detail = client.get(reverse("procedures:order_detail", kwargs={"order_id": suspended.pk}))
    assert detail.status_code == 200
    assert detail.content.decode().count('class="badge status-badge') >= 4  # received, scheduled, sent, completed


def test_order_list_pages(tenant_a: TenantWorld, at_open: Any) -> None:
    from kaisen.procedures import views

    lines = [line_for(tenant_a, OrderKind.SUSPEND) for _ in range(3)]
    for line in lines:
        submit(tenant_a, line, OrderKind.SUSPEND)
    client = session(tenant_a)
    original = views.ORDER_PAGE_SIZE
    views.ORDER_PAGE_SIZE = 2
    try:
        first = client.get(reverse("procedures:order_list")).content.decode()
        cursor = re.search(r'href="\?cursor=([^"&]+)" rel="next"', first)
        assert cursor
        second = client.get(reverse("procedures:order_list"), {"cursor": cursor.group(1)})
        assert second.status_code == 200
        assert client.get(reverse("procedures:order_list"), {"cursor": "garbage"}).status_code == 400
    finally:
        views.ORDER_PAGE_SIZE = original


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_pages_render_in_both_languages_x_i18n(tenant_a: TenantWorld, at_open: Any, lang: str) -> None:
    client = session(tenant_a, lang)
    line = line_for(tenant_a, OrderKind.VOICE_OPTIONS)
    for target in (reverse("procedures:index"), reverse("procedures:mnp_waiting"), reverse("procedures:order_list"),
                   reverse("procedures:bulk"), reverse("lines:detail", kwargs={"pk": line.pk}),
                   *(url(kind, line) for kind in OrderKind.values)):
        response = client.get(target)
        assert response.status_code == 200, target
    index = client.get(reverse("procedures:index")).content.decode()
    assert ("各種手続き" in index) == (lang == "ja")


def test_index_search_goes_to_the_line_or_the_procedure(tenant_a: TenantWorld, tenant_b: TenantWorld,
                                                        at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.SUSPEND)
    client = session(tenant_a)
    response = client.get(reverse("procedures:index"), {"q": line.msisdn or ""})
    assert response["Location"] == reverse("lines:detail", kwargs={"pk": line.pk})
    response = client.get(reverse("procedures:index"), {"q": line.msisdn or "", "kind": "suspend"})
    assert response["Location"] == url(OrderKind.SUSPEND, line)
    response = client.get(reverse("procedures:index"), {"q": line.msisdn or "", "kind": "resume"})
    assert response["Location"] == reverse("lines:detail", kwargs={"pk": line.pk})
    assert client.get(reverse("procedures:index"), {"q": tenant_b.line.msisdn or ""}).status_code == 400


def test_complete_page_shows_a_scheduled_suspend_as_scheduled_issue_14(tenant_a: TenantWorld) -> None:
    """A SoftBank suspend applied at 9:30 is carried out from 10:00: the complete page must not present
    the line as already suspended (中断中) beside the order's 予約済."""
    line = make_line(tenant_a, carrier=Carrier.SOFTBANK)
    with time_machine.travel(jst(2026, 11, 24, 9, 30), tick=False):
        order = submit(tenant_a, line, OrderKind.SUSPEND)
        assert order.status == OrderStatus.SCHEDULED
        html = session(tenant_a, "ja").get(reverse("procedures:complete",
                                                   kwargs={"order_id": order.pk})).content.decode()
    assert "予約済" in html
    assert "<dt>手続き完了後の回線状態</dt>" in html and "<dt>回線状態</dt>" not in html
    line.refresh_from_db()
    assert line.status == LineStatus.ACTIVE


def test_a_withdrawn_order_is_shown_as_withdrawn_not_terminated_issue_14(tenant_a: TenantWorld, at_open: Any) -> None:
    line = line_for(tenant_a, OrderKind.VOICE_OPTIONS)
    order = submit(tenant_a, line, OrderKind.VOICE_OPTIONS, {"effective": "next_month",
                                                             "options": {"voicemail": True}})
    client = session(tenant_a, "ja")
    client.post(reverse("procedures:order_cancel", kwargs={"order_id": order.pk}))
    for page in (reverse("procedures:cancelled", kwargs={"order_id": order.pk}),
                 reverse("procedures:order_detail", kwargs={"order_id": order.pk}),
                 reverse("procedures:order_list"), reverse("lines:detail", kwargs={"pk": line.pk})):
        html = client.get(page).content.decode()
        assert "取消済" in html, page  # the badge, and the order list's status filter
        if "/orders/" in page and page != reverse("procedures:order_list"):
            assert "解約済" not in html, page
