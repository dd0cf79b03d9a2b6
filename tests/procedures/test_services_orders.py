"""Order services across procedures: idempotency, tenants, conflicts, applying results once, the status
page's buttons, selectors (M-PROC-7, M-LINE-1, T-2)."""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail

from kaisen.carriers.models import Carrier
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.lines.models import LineStatus, SimType
from kaisen.notifications import sending
from kaisen.notifications import services as outbox
from kaisen.notifications.models import OutboxMessage, OutboxStatus
from kaisen.procedures import results, selectors, services
from kaisen.procedures.engine import orders_tick
from kaisen.procedures.models import Order, OrderEvent, OrderKind, OrderStatus
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import complete, fail, jst, make_line, submit, topics

pytestmark = pytest.mark.django_db
NOON = jst(2026, 11, 24, 12, 0)


@time_machine.travel(NOON, tick=False)
def test_double_submit_same_key_one_order_one_mail_m_proc_7(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, sim_type=SimType.VOICE)
    first = submit(tenant_a, line, "suspend", key="same")
    again = submit(tenant_a, line, "suspend", key="same")
    assert first.pk == again.pk
    assert Order.objects.count() == 1
    assert OutboxMessage.objects.filter(topic="accepted").count() == 1


@time_machine.travel(NOON, tick=False)
def test_same_key_after_the_rules_changed_still_returns_the_order_m_proc_7(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    first = submit(tenant_a, line, "cancellation", {"end_date": "2026-12-31"}, key="k1")
    # The line now has a pending cancellation (a conflict for a *new* order), yet the retry is the same request.
    assert submit(tenant_a, line, "cancellation", {"end_date": "2026-12-31"}, key="k1").pk == first.pk


@time_machine.travel(NOON, tick=False)
def test_same_key_different_params_refused_m_proc_7(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    submit(tenant_a, line, "cancellation", {"end_date": "2026-12-31"}, key="k1")
    with pytest.raises(DomainError) as exc:
        submit(tenant_a, line, "cancellation", {"end_date": "2026-12-30"}, key="k1")
    assert exc.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert exc.value.http_status == 409
    with pytest.raises(DomainError) as exc:
        submit(tenant_a, make_line(tenant_a), "cancellation", {"end_date": "2026-12-31"}, key="k1")
    assert exc.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED


@time_machine.travel(NOON, tick=False)
def test_idempotency_key_is_per_tenant_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    a = submit(tenant_a, make_line(tenant_a), "suspend", key="shared")
    b = submit(tenant_b, make_line(tenant_b), "suspend", key="shared")
    assert a.pk != b.pk


@time_machine.travel(NOON, tick=False)
def test_another_tenants_line_and_order_not_found_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    theirs = make_line(tenant_b)
    with pytest.raises(NotFound):
        submit(tenant_a, theirs, "suspend")
    with pytest.raises(NotFound):
        services.order_preview(tenant=tenant_a.tenant, user=tenant_a.user, line_id=theirs.pk, kind="suspend",
                               params={})
    order = submit(tenant_b, theirs, "cancellation")
    with pytest.raises(NotFound):
        services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    with pytest.raises(NotFound):
        selectors.order_get(tenant=tenant_a.tenant, order_id=order.pk)
    with pytest.raises(NotFound):
        selectors.order_events(tenant=tenant_a.tenant, order=order)
    with pytest.raises(NotFound):
        services.procedures_for_line(tenant=tenant_a.tenant, user=tenant_a.user, line=theirs)
    assert selectors.order_list(tenant=tenant_a.tenant).items == []


@pytest.mark.parametrize(("first", "second"), [
    ("suspend", "suspend"), ("suspend", "cancellation"), ("cancellation", "plan_change"),
    ("mnp_reservation", "suspend"), ("voice_options", "voice_options"),
])
@time_machine.travel(NOON, tick=False)
def test_conflicting_orders_refused_m_proc_7(tenant_a: TenantWorld, first: str, second: str) -> None:
    line = make_line(tenant_a, sim_type=SimType.VOICE, voice_options={"voicemail": False})
    params = {
        "voice_options": {"effective": "next_month", "options": {"voicemail": True}},
        "mnp_reservation": {"holder_name": "株式会社テスト", "holder_name_kana": "テスト"},
        "plan_change": {"data_cap_mb": 100},
    }
    submit(tenant_a, line, first, params.get(first))
    with pytest.raises(DomainError) as exc:
        submit(tenant_a, line, second, params.get(second))
    assert exc.value.code == ErrorCode.ORDER_CONFLICT


@time_machine.travel(NOON, tick=False)
def test_independent_kinds_may_be_pending_together_m_proc_7(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, sim_type=SimType.VOICE, voice_options={"voicemail": False})
    submit(tenant_a, line, "voice_options", {"effective": "next_month", "options": {"voicemail": True}})
    submit(tenant_a, line, "sim_reissue", {"sim_size": "micro", "ship_date": "2026-11-27"})
    submit(tenant_a, line, "cancellation")
    assert len(selectors.line_pending_orders(tenant=tenant_a.tenant, line=line)) == 3


@time_machine.travel(NOON, tick=False)
def test_submit_records_received_and_scheduled_events_x_audit(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, make_line(tenant_a), "suspend")
    events = selectors.order_events(tenant=tenant_a.tenant, order=order)
    assert [(e.from_status, e.to_status) for e in events] == [("", "received"), ("received", "scheduled")]
    assert order.requested_by == tenant_a.user


@time_machine.travel(NOON, tick=False)
def test_apply_result_twice_applies_once_m_proc_7(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, sim_type=SimType.VOICE)
    order = complete(submit(tenant_a, line, "suspend"))
    events = OrderEvent.objects.filter(order=order).count()
    complete(order)
    assert OrderEvent.objects.filter(order=order).count() == events
    assert topics(order) == ["accepted", "completed"]


@time_machine.travel(NOON, tick=False)
def test_failure_mails_and_clears_the_scheduled_end_m_proc_7(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    order = fail(submit(tenant_a, line, "cancellation", {"end_date": "2026-11-24"}), message="line locked")
    assert (order.status, order.error_code, order.error_message) == (OrderStatus.FAILED, "REFUSED", "line locked")
    line.refresh_from_db()
    assert (line.status, line.scheduled_end_on) == (LineStatus.ACTIVE, None)
    assert topics(order) == ["accepted", "failed"]
    # A refusal straight from SCHEDULED (the carrier refused the send) is applied the same way.
    second = submit(tenant_a, line, "cancellation")
    from kaisen.carriers.adapters import CarrierState, CarrierStatus

    results.order_apply_result(order=Order.objects.get(pk=second.pk),
                                status=CarrierStatus(state=CarrierState.FAILED, error_code="X"))
    assert Order.objects.get(pk=second.pk).status == OrderStatus.FAILED


@time_machine.travel(NOON, tick=False)
def test_sent_order_not_cancellable_m_proc_7(tenant_a: TenantWorld) -> None:
    from tests.procedures.procedure_kit import sent

    order = sent(submit(tenant_a, make_line(tenant_a), "cancellation"))
    with pytest.raises(DomainError) as exc:
        services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    assert exc.value.code == ErrorCode.ORDER_NOT_CANCELLABLE


@time_machine.travel(NOON, tick=False)
def test_status_page_buttons_m_line_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, carrier=Carrier.SOFTBANK, sim_type=SimType.VOICE)
    options = {o.kind: o for o in services.procedures_for_line(tenant=tenant_a.tenant, user=tenant_a.user,
                                                                line=line) if o.action == "submit"}
    assert set(options) == set(OrderKind.values)
    assert options["suspend"].available and not options["resume"].available
    assert not options["sim_reissue"].available and "OTA" in options["sim_reissue"].reason
    assert options["sim_reissue"].code == ErrorCode.METHOD_NOT_OFFERED
    assert not options["mnp_activation"].available
    order = submit(tenant_a, line, "cancellation")
    after = services.procedures_for_line(tenant=tenant_a.tenant, user=tenant_a.user, line=line)
    cancels = [o for o in after if o.action == "cancel"]
    assert [(o.order_id, o.available) for o in cancels] == [(order.pk, True)]
    assert not any(o.available for o in after if o.action == "submit")


@time_machine.travel(jst(2026, 11, 24, 20, 30), tick=False)
def test_status_page_buttons_outside_reception_m_line_1(tenant_a: TenantWorld) -> None:
    options = services.procedures_for_line(tenant=tenant_a.tenant, user=tenant_a.user, line=make_line(tenant_a))
    suspend = next(o for o in options if o.kind == "suspend")
    assert not suspend.available and suspend.code == ErrorCode.OUTSIDE_RECEPTION_HOURS


@time_machine.travel(NOON, tick=False)
def test_order_list_keyset_paging_and_filters(tenant_a: TenantWorld) -> None:
    lines = [make_line(tenant_a) for _ in range(5)]
    orders = [submit(tenant_a, line, "suspend") for line in lines]
    page = selectors.order_list(tenant=tenant_a.tenant, size=2)
    assert [o.pk for o in page.items] == [orders[4].pk, orders[3].pk]
    page2 = selectors.order_list(tenant=tenant_a.tenant, size=2, cursor=page.next_cursor)
    assert [o.pk for o in page2.items] == [orders[2].pk, orders[1].pk]
    assert len(selectors.order_list(tenant=tenant_a.tenant, status="pending").items) == 5
    assert selectors.order_list(tenant=tenant_a.tenant, kind="resume").items == []
    assert [o.pk for o in selectors.order_list(tenant=tenant_a.tenant, line_id=lines[0].pk).items] == [orders[0].pk]
    with pytest.raises(DomainError):
        selectors.order_list(tenant=tenant_a.tenant, status="bogus")


def test_outbox_sends_once_and_respects_send_after_m_proc_7(tenant_a: TenantWorld) -> None:
    with time_machine.travel(NOON, tick=False):
        order = submit(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "sim_reissue",
                       {"sim_size": "nano", "ship_date": "2026-11-28"})
        accepted = OutboxMessage.objects.get(order=order, topic="accepted")
        assert outbox.outbox_send(accepted.pk) is True
        assert outbox.outbox_send(accepted.pk) is False
        assert len(mail.outbox) == 1
        sent_mail = mail.outbox[0]
        assert sent_mail.to == [tenant_a.tenant.notification_email]
        # the order number as the pages show it (issue 14), not the carrier reference KSN-n
        assert f"申込番号: {order.pk}\n" in sent_mail.body and "KSN-" not in sent_mail.body
        assert "SIMサイズ変更・再発行" in sent_mail.subject
        assert outbox.outbox_send_due() == 0  # the reminder waits for the day before shipment
    with time_machine.travel(jst(2026, 11, 27, 9, 0, 1), tick=False):
        assert outbox.outbox_send_due() == 1
    assert OutboxMessage.objects.get(order=order, topic="reminder").status == OutboxStatus.SENT
    assert len(mail.outbox) == 2


@time_machine.travel(NOON, tick=False)
def test_outbox_add_repeat_is_a_no_op_m_proc_7(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "suspend")
    again = outbox.outbox_add(tenant=tenant_a.tenant, order=order, topic="accepted", to=["x@example.jp"],
                              subject="s", body="b")
    assert again is not None and again.to == [tenant_a.tenant.notification_email]
    assert OutboxMessage.objects.filter(order=order).count() == 1


@time_machine.travel(NOON, tick=False)
def test_outbox_batching_writes_once_and_skips_repeats_issue_11(tenant_a: TenantWorld) -> None:
    """Inside ``batching()`` (the engine's batch of orders): the mails go out with one INSERT at the end; a repeat
    of (order, topic), in the block or already stored, is skipped without breaking the transaction; a mail
    withdrawn in the block is never written."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    first = submit(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "suspend")  # its "accepted" is stored
    second = submit(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "suspend")
    stored = OutboxMessage.objects.get(order=first, topic="accepted")

    def add(order, topic: str, subject: str) -> None:  # type: ignore[no-untyped-def]
        outbox.outbox_add(tenant=tenant_a.tenant, order=order, topic=topic, to=["x@example.jp"], subject=subject,
                          body="b")

    with CaptureQueriesContext(connection) as ctx, transaction.atomic(), outbox.batching():
        add(first, "accepted", "again")  # stored already
        add(first, "completed", "c1")
        add(first, "completed", "c1 again")  # a repeat in the block
        add(second, "reminder", "r")
        assert outbox.outbox_withdraw(order=second, topics=["reminder"]) == 0  # not written yet: dropped
        add(second, "completed", "c2")
        assert not OutboxMessage.objects.filter(topic="completed").exists()  # nothing written before the end
    assert sum(1 for q in ctx.captured_queries if q["sql"].startswith('INSERT INTO "notifications_outboxmessage"')
               or q["sql"].startswith('INSERT OR IGNORE INTO "notifications_outboxmessage"')) == 1
    assert OutboxMessage.objects.get(pk=stored.pk).subject == stored.subject
    assert list(OutboxMessage.objects.filter(topic="completed").order_by("order_id")
                .values_list("order_id", "subject")) == [(first.pk, "c1"), (second.pk, "c2")]
    assert not OutboxMessage.objects.filter(order=second, topic="reminder").exists()


@time_machine.travel(NOON, tick=False)
def test_due_order_is_left_to_the_scheduler_issue_11(tenant_a: TenantWorld,
                                                     django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """No task per order and none per mail (issue 11 §1): the scheduler's tick sends both."""
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        order = submit(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "suspend")
    assert DBTaskResult.objects.count() == 0
    report = orders_tick()
    assert report.sent == 1 and report.mails_sent == 1
    assert OutboxMessage.objects.get(order=order, topic="accepted").status == OutboxStatus.SENT


@time_machine.travel(NOON, tick=False)
def test_race_past_the_conflict_check_is_order_conflict_m_proc_7(tenant_a: TenantWorld,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two submits that both passed the conflict check: the partial unique constraint stops the second."""
    line = make_line(tenant_a)
    submit(tenant_a, line, "suspend")
    monkeypatch.setattr(services, "_pending", lambda line: [])
    with pytest.raises(DomainError) as exc:
        submit(tenant_a, line, "suspend")
    assert exc.value.code == ErrorCode.ORDER_CONFLICT
    assert Order.objects.filter(line=line).count() == 1


@time_machine.travel(NOON, tick=False)
def test_outbox_send_failure_is_retried_then_failed_m_proc_7(tenant_a: TenantWorld,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    order = submit(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "suspend")
    message = OutboxMessage.objects.get(order=order, topic="accepted")

    def broken(*args: object, **kwargs: object) -> int:
        raise OSError("smtp down")

    monkeypatch.setattr(sending, "send_mail", broken)
    for _ in range(sending.MAX_ATTEMPTS):
        assert outbox.outbox_send(message.pk) is False
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.FAILED, 5, "smtp down")
