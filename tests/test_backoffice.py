"""Issue 14, operator back office: orders (search, detail with events, staff actions through
procedures.staff, audited), read-only admins, the "needs attention" page, task results in Japanese, amounts
with thousands separators, and no access for non-staff users."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult, get_date_max

from kaisen.accounts.services import user_create
from kaisen.audit.models import AuditEvent
from kaisen.billing.models import Invoice, InvoiceStatus
from kaisen.core import clock
from kaisen.core.admin import format_amount
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import LineStatus
from kaisen.procedures import staff as staff_actions
from kaisen.procedures.models import Order, OrderEvent, OrderStatus
from kaisen.procedures.workflow import order_transition
from kaisen.usage.models import UsageFile
from tests.conftest import TenantWorld
from tests.procedures.engine_support import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user():  # type: ignore[no-untyped-def]
    return user_create(tenant=None, username="bo14_staff", password="Staff-password-2026", is_staff=True,
                       is_superuser=True)


@pytest.fixture
def staff_client(staff_user) -> Client:  # type: ignore[no-untyped-def]
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(staff_user)
    return client


def _sent(order: Order) -> Order:
    order.next_check_at = clock.now() + dt.timedelta(hours=1)
    order_transition(order, OrderStatus.SENT, actor="test", update_fields=["next_check_at"])
    return order


# --- Search and detail -------------------------------------------------------------------------------------

def test_staff_find_orders_by_number_iccid_phone_tenant_and_status(staff_client: Client, tenant_a: TenantWorld,
                                                                   tenant_b: TenantWorld) -> None:
    mine = make_order(tenant_a.line)
    other = _sent(make_order(tenant_b.line))

    def found(query: str) -> set[int]:
        page = staff_client.get("/admin/procedures/order/" + query)
        assert page.status_code == 200
        return {o.pk for o in page.context["cl"].result_list}

    assert found(f"?q={mine.pk}") == {mine.pk}
    assert found(f"?q=%23{other.pk}") == {other.pk}
    assert found(f"?q={tenant_a.line.iccid}") == {mine.pk}
    assert found(f"?q={tenant_b.line.msisdn}") == {other.pk}
    assert found(f"?q={tenant_a.tenant.public_id}") == {mine.pk}
    assert found("?status__exact=sent") == {other.pk}
    assert found("?status__exact=scheduled") == {mine.pk}


def test_order_detail_shows_its_events_and_the_staff_actions(staff_client: Client, tenant_a: TenantWorld) -> None:
    order = _sent(make_order(tenant_a.line))
    page = staff_client.get(f"/admin/procedures/order/{order.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="field-to_status"') >= 3  # received, scheduled, sent
    assert f"/admin/procedures/order/{order.pk}/act/" in html
    assert 'name="reason"' in html


# --- Staff actions -----------------------------------------------------------------------------------------

def _act(client: Client, order: Order, action: str, reason: str = "carrier confirmed by phone"):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/procedures/order/{order.pk}/act/", {"action": action, "reason": reason},
                       follow=True)


def test_mark_completed_applies_the_line_change_and_is_audited(staff_client: Client, staff_user,  # type: ignore[no-untyped-def]
                                                               tenant_a: TenantWorld) -> None:
    order = _sent(make_order(tenant_a.line))  # a suspension
    page = _act(staff_client, order, "complete", "docomo confirmed it is done")
    order.refresh_from_db()
    tenant_a.line.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert tenant_a.line.status == LineStatus.SUSPENDED  # as a carrier completion would
    event = AuditEvent.objects.filter(action="order.completed", target_id=str(order.pk)).get()
    assert (event.user, event.reason) == (staff_user, "docomo confirmed it is done")
    last = OrderEvent.objects.filter(order=order).last()
    assert last is not None and last.actor == "staff:bo14_staff" and last.to_status == OrderStatus.COMPLETED
    assert "完了にしました" in page.content.decode()


def test_mark_failed_finishes_the_order_with_the_reason(staff_client: Client, staff_user,  # type: ignore[no-untyped-def]
                                                        tenant_a: TenantWorld) -> None:
    order = make_order(tenant_a.line)
    _act(staff_client, order, "fail", "line under investigation")
    order.refresh_from_db()
    assert (order.status, order.error_code, order.error_message) == (
        OrderStatus.FAILED, staff_actions.STAFF_FAILED_CODE, "line under investigation")
    event = AuditEvent.objects.filter(action="order.failed", target_id=str(order.pk)).get()
    assert (event.user, event.reason) == (staff_user, "line under investigation")


def test_retry_hands_a_due_order_to_the_engine_and_is_audited(staff_client: Client, staff_user,  # type: ignore[no-untyped-def]
                                                              tenant_a: TenantWorld) -> None:
    order = make_order(tenant_a.line, due_at=clock.now() - dt.timedelta(hours=2))
    _act(staff_client, order, "retry", "stuck since this morning")
    order.refresh_from_db()
    assert order.status != OrderStatus.SCHEDULED and order.attempts == 1  # the engine sent it
    event = AuditEvent.objects.filter(action="order.staff_retry", target_id=str(order.pk)).get()
    assert (event.user, event.reason) == (staff_user, "stuck since this morning")


def test_staff_actions_refuse_moves_the_workflow_does_not_allow(staff_client: Client, staff_user,  # type: ignore[no-untyped-def]
                                                                tenant_a: TenantWorld) -> None:
    scheduled = make_order(tenant_a.line, due_at=clock.now() + dt.timedelta(days=1))
    with pytest.raises(DomainError) as not_sent:
        staff_actions.order_staff_complete(staff=staff_user, order_id=scheduled.pk, reason="x")
    assert not_sent.value.code == ErrorCode.ORDER_STATE_INVALID
    with pytest.raises(DomainError) as not_due:
        staff_actions.order_staff_retry(staff=staff_user, order_id=scheduled.pk, reason="x")
    assert not_due.value.code == ErrorCode.ORDER_STATE_INVALID
    with pytest.raises(DomainError) as no_reason:
        staff_actions.order_staff_fail(staff=staff_user, order_id=scheduled.pk, reason="  ")
    assert no_reason.value.code == ErrorCode.VALIDATION_ERROR
    staff_actions.order_staff_fail(staff=staff_user, order_id=scheduled.pk, reason="withdrawn by phone")
    for call in (staff_actions.order_staff_fail, staff_actions.order_staff_complete, staff_actions.order_staff_retry):
        with pytest.raises(DomainError) as final:
            call(staff=staff_user, order_id=scheduled.pk, reason="again")
        assert final.value.code == ErrorCode.ORDER_STATE_INVALID
    # In the admin, the refusal is a message and nothing changes.
    page = _act(staff_client, scheduled, "complete")
    assert "ORDER_STATE_INVALID" in page.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.status == OrderStatus.FAILED
    assert not AuditEvent.objects.filter(action="order.completed", target_id=str(scheduled.pk)).exists()


def test_an_mnp_reservation_is_never_completed_by_hand(staff_user, tenant_a: TenantWorld) -> None:  # type: ignore[no-untyped-def]
    order = _sent(make_order(tenant_a.line, kind="mnp_reservation"))
    with pytest.raises(DomainError) as refused:
        staff_actions.order_staff_complete(staff=staff_user, order_id=order.pk, reason="x")
    assert refused.value.code == ErrorCode.ORDER_STATE_INVALID
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT


def test_staff_without_the_order_permission_cannot_act(tenant_a: TenantWorld) -> None:
    viewer = user_create(tenant=None, username="bo14_viewer", password="Staff-password-2026", is_staff=True)
    order = make_order(tenant_a.line)
    with pytest.raises(DomainError) as refused:
        staff_actions.order_staff_fail(staff=viewer, order_id=order.pk, reason="x")
    assert refused.value.code == ErrorCode.PERMISSION_DENIED


# --- Read-only admins and access ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["procedures/order", "procedures/bulkjob", "statements/statement",
                                   "access/role", "access/roleassignment", "access/approvalrequest"])
def test_read_only_admins_list_but_refuse_add_change_delete(staff_client: Client, tenant_a: TenantWorld,
                                                            model: str) -> None:
    order = make_order(tenant_a.line)
    assert staff_client.get(f"/admin/{model}/").status_code == 200
    assert staff_client.post(f"/admin/{model}/add/", {}).status_code == 403
    if model == "procedures/order":
        assert staff_client.post(f"/admin/{model}/{order.pk}/delete/", {"post": "yes"}).status_code == 403
        assert staff_client.post(f"/admin/{model}/{order.pk}/change/", {"status": "completed"}).status_code == 403
        order.refresh_from_db()
        assert order.status == OrderStatus.SCHEDULED


def test_non_staff_users_get_no_back_office(tenant_a: TenantWorld) -> None:
    order = make_order(tenant_a.line)
    client = Client()
    client.force_login(tenant_a.user)
    for url in ("/admin/procedures/order/", "/admin/needs-attention/", f"/admin/procedures/order/{order.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 302 and "/admin/login/" in page["Location"], url
    client.post(f"/admin/procedures/order/{order.pk}/act/", {"action": "fail", "reason": "x"})
    order.refresh_from_db()
    assert order.status == OrderStatus.SCHEDULED


# --- Needs attention ---------------------------------------------------------------------------------------

def test_needs_attention_lists_overdue_orders_payment_errors_and_failed_imports(staff_client: Client, staff_user,  # type: ignore[no-untyped-def]
                                                                                tenant_a: TenantWorld) -> None:
    now = clock.now()
    overdue = make_order(tenant_a.line, due_at=now - dt.timedelta(hours=3))
    not_due = make_order(tenant_a.lines[1], due_at=now + dt.timedelta(hours=3))
    done = _sent(make_order(tenant_a.lines[2], due_at=now - dt.timedelta(hours=3)))
    staff_actions.order_staff_complete(staff=staff_user, order_id=done.pk, reason="done")
    invoice = Invoice.objects.create(tenant=tenant_a.tenant, month=dt.date(2026, 10, 1), number="INV-BO14-1",
                                     status=InvoiceStatus.PAYMENT_ERROR, total=Decimal(1234567))
    Invoice.objects.create(tenant=tenant_a.tenant, month=dt.date(2026, 9, 1), number="INV-BO14-0",
                           status=InvoiceStatus.PAID, total=Decimal(1000))
    bad = UsageFile.objects.create(kind="calls", name="calls-bo14-bad.csv", sha256=uuid.uuid4().hex * 2,
                                   rows_total=12000, rows_rejected=3)
    UsageFile.objects.create(kind="calls", name="calls-bo14-good.csv", sha256=uuid.uuid4().hex * 2, rows_total=5)

    index = staff_client.get("/admin/")
    assert "/admin/needs-attention/" in index.content.decode()
    page = staff_client.get("/admin/needs-attention/")
    assert page.status_code == 200
    assert [o.pk for o in page.context["overdue"]] == [overdue.pk]
    assert not_due.pk not in {o.pk for o in page.context["overdue"]}
    assert [i.pk for i in page.context["payment_errors"]] == [invoice.pk]
    assert [f.pk for f in page.context["failed_imports"]] == [bad.pk]
    html = page.content.decode()
    assert "要対応" in html and "INV-BO14-1" in html and "1,234,567" in html and "12,000" in html
    assert "calls-bo14-good.csv" not in html and "INV-BO14-0" not in html


def test_staff_without_order_view_permission_do_not_see_needs_attention() -> None:
    viewer = user_create(tenant=None, username="bo14_plain", password="Staff-password-2026", is_staff=True)
    client = Client()
    client.force_login(viewer)
    assert client.get("/admin/needs-attention/").status_code == 403


# --- Japanese task results, amounts ------------------------------------------------------------------------

def test_task_results_show_in_japanese(staff_client: Client) -> None:
    DBTaskResult.objects.create(task_path="kaisen.procedures.tasks.order_kick", args_kwargs={"args": [], "kwargs": {}},
                                backend_name="default", run_after=get_date_max(), queue_name="default", priority=0,
                                exception_class_path="", traceback="", worker_ids=[])
    page = staff_client.get("/admin/django_tasks_database/dbtaskresult/")
    assert page.status_code == 200
    html = page.content.decode()
    for japanese in ("タスクの実行結果", "登録日時", "優先度", "キュー名", "実行待ち", "タスク"):
        assert japanese in html, japanese
    for english in ("Task Results", "Enqueued at", "Queue name", "Task name", ">Ready<"):
        assert english not in html, english
    assert "バックグラウンド処理" in staff_client.get("/admin/").content.decode()


def test_amounts_show_thousands_separators(staff_client: Client, tenant_a: TenantWorld) -> None:
    assert format_amount(Decimal("1234567.00")) == "1,234,567"
    assert format_amount(Decimal("1234.50")) == "1,234.50"
    assert format_amount(None) == "-"
    Invoice.objects.create(tenant=tenant_a.tenant, month=dt.date(2026, 10, 1), number="INV-BO14-2",
                           status=InvoiceStatus.INVOICED, total=Decimal(9876543), total_jpy=9876543)
    for url in ("/admin/billing/invoice/", "/admin/payments/unpaidinvoice/"):
        html = staff_client.get(url).content.decode()
        assert "9,876,543" in html and "9876543" not in html, url
