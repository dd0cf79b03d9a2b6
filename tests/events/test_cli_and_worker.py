"""``kaisen webhooks`` / ``kaisen alerts`` / ``kaisen bills forecast`` against a live portal, and delivery through
the task worker and the scheduler's sweep (issue 13 §2, §5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult
from typer.testing import CliRunner

from kaisen.cli import app
from kaisen.core.periodic import JOBS
from kaisen.events import catalogue
from kaisen.events.delivery import SENDERS, deliveries_send_due
from kaisen.events.models import Delivery, DeliveryStatus
from kaisen.events.services import endpoint_create, event_emit, events_emit
from kaisen.events.tasks import BATCH, webhook_deliver_batch_task, webhook_deliver_task
from tests.conftest import TenantWorld, make_world
from tests.events.receiver import Receiver

runner = CliRunner()


def _run(args: list[str], env: dict[str, str]) -> Any:
    res = runner.invoke(app, args, env=env, catch_exceptions=False)
    assert res.exit_code == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allow_local")
def test_cli_webhooks_alerts_and_forecast(live_server: Any, tmp_path: Path, receiver: Receiver) -> None:
    world = make_world()
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": world.token,
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    added = _run(["webhooks", "add", receiver.url, "--event", "order.completed", "--event", "line.status_changed"],
                 env)
    assert added["secret"].startswith("whsec_") and added["event_types"] == ["line.status_changed",
                                                                             "order.completed"]
    ping = _run(["webhooks", "test", str(added["id"])], env)
    assert ping["status"] == "succeeded" and len(receiver.requests) == 1
    [delivery] = _run(["--format", "json", "webhooks", "deliveries", str(added["id"])], env)
    again = _run(["webhooks", "redeliver", str(delivery["id"])], env)
    assert again["attempts"] == 2
    rule = _run(["alerts", "add", "big", "--condition", "data_month_mb", "--threshold", "500", "--action", "mail"],
                env)
    assert rule["threshold"] == "500.00"
    assert [r["name"] for r in _run(["--format", "json", "alerts", "rules"], env)] == ["big"]
    assert _run(["alerts", "budget", "japan", "--amount", "9000"], env)["amount"] == "9000.00"
    [forecast] = _run(["--format", "json", "bills", "forecast"], env)
    assert forecast["is_projection"] is True and forecast["budget"] == "9000.00"
    refused = runner.invoke(app, ["webhooks", "add", "http://169.254.169.254/", "--event", "order.failed"], env=env)
    assert refused.exit_code != 0 and "WEBHOOK_URL_REFUSED" in refused.stderr


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_local")
def test_first_attempt_is_a_task_enqueued_on_commit(tenant_a: TenantWorld, receiver: Receiver,
                                                     django_capture_on_commit_callbacks: Any) -> None:
    endpoint_create(tenant=tenant_a.tenant, user=tenant_a.user, url=receiver.url,
                    event_types=[catalogue.APIKEY_CREATED])
    with django_capture_on_commit_callbacks(execute=True):
        event = event_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED,
                           data={"key_id": "K", "name": "n", "user": "u"})
    delivery = Delivery.objects.get(event=event)
    task = DBTaskResult.objects.get(task_path="kaisen.events.tasks.webhook_deliver_batch_task")
    assert task.args_kwargs["kwargs"] == {"delivery_ids": [delivery.pk]}
    # what the worker runs; a second run sends nothing
    assert webhook_deliver_batch_task.call(delivery_ids=[delivery.pk]) == {"sent": 1}
    assert webhook_deliver_batch_task.call(delivery_ids=[delivery.pk]) == {"skipped": 1}
    assert webhook_deliver_task.call(delivery_id=delivery.pk) == "skipped"  # the one-delivery task still runs
    assert len(receiver.requests) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_local")
def test_many_deliveries_are_enqueued_in_batches_and_reuse_the_connection(
        tenant_a: TenantWorld, receiver: Receiver, django_capture_on_commit_callbacks: Any) -> None:
    endpoint_create(tenant=tenant_a.tenant, user=tenant_a.user, url=receiver.url,
                    event_types=[catalogue.APIKEY_CREATED])
    n = BATCH + 5
    with django_capture_on_commit_callbacks(execute=True):
        events_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED,
                    items=[(None, {"key_id": f"K{i}", "name": "n", "user": "u"}) for i in range(n)])
    tasks = list(DBTaskResult.objects.filter(task_path="kaisen.events.tasks.webhook_deliver_batch_task")
                 .order_by("enqueued_at", "id"))
    chunks = [t.args_kwargs["kwargs"]["delivery_ids"] for t in tasks]
    assert [len(c) for c in chunks] == [BATCH, 5]
    assert sorted(pk for chunk in chunks for pk in chunk) == sorted(Delivery.objects.values_list("pk", flat=True))
    for chunk in chunks:
        assert webhook_deliver_batch_task.call(delivery_ids=chunk) == {"sent": len(chunk)}
    assert len(receiver.requests) == n
    # A few keep-alive connections carried them all (the receiver sees the clients' ports): at most one per
    # sender thread.
    assert len({r.client_port for r in receiver.requests}) <= SENDERS


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_local")
def test_a_failed_enqueue_leaves_no_task_and_the_sweep_sends_the_deliveries(
        tenant_a: TenantWorld, receiver: Receiver, django_capture_on_commit_callbacks: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The tasks of one commit are enqueued in one transaction: when the second cannot be, neither is kept
    (no half of a batch), and the committed deliveries go out with the scheduler's sweep."""
    endpoint_create(tenant=tenant_a.tenant, user=tenant_a.user, url=receiver.url,
                    event_types=[catalogue.APIKEY_CREATED])
    calls: list[int] = []

    class Flaky:
        def enqueue(self, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("queue down")
            return webhook_deliver_batch_task.enqueue(**kwargs)

    monkeypatch.setattr("kaisen.events.services.webhook_deliver_batch_task", Flaky())
    with django_capture_on_commit_callbacks(execute=True):
        events_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED,
                    items=[(None, {"key_id": f"K{i}", "name": "n", "user": "u"}) for i in range(BATCH + 5)])
    assert len(calls) == 2
    assert not DBTaskResult.objects.filter(task_path="kaisen.events.tasks.webhook_deliver_batch_task").exists()
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == BATCH + 5
    assert deliveries_send_due(limit=200) == BATCH + 5
    assert len(receiver.requests) == BATCH + 5


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_local")
def test_the_scheduler_sweep_sends_what_a_lost_task_left(tenant_a: TenantWorld, receiver: Receiver) -> None:
    assert any(j.func == "kaisen.events.delivery.deliveries_send_due" for j in JOBS)
    endpoint_create(tenant=tenant_a.tenant, user=tenant_a.user, url=receiver.url,
                    event_types=[catalogue.APIKEY_CREATED])
    event = event_emit(tenant_id=tenant_a.tenant.pk, type=catalogue.APIKEY_CREATED,
                       data={"key_id": "K", "name": "n", "user": "u"})  # no commit here: its task never ran
    assert deliveries_send_due() == 1
    assert Delivery.objects.get(event=event).status == DeliveryStatus.SUCCEEDED
