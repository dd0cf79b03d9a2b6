"""Helpers for the procedure rules and services tests: lines of every shape, Japan-time instants, and
the carrier's answer fed to ``results.order_apply_result`` as the engine would."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from kaisen.carriers.adapters import CarrierState, CarrierStatus
from kaisen.carriers.models import Carrier
from kaisen.core import clock
from kaisen.lines.models import Line, LineStatus, SimSize, SimType
from kaisen.notifications.models import OutboxMessage
from kaisen.procedures import results, services
from kaisen.procedures.models import Order, OrderStatus
from kaisen.procedures.workflow import order_transition
from tests.factories import LineFactory, PlanFactory

_keys = itertools.count(1)


def jst(*args: int) -> dt.datetime:
    """An aware Japan-time instant: jst(2026, 11, 24, 9, 30)."""
    return dt.datetime(*args, tzinfo=clock.JST)  # type: ignore[misc]


def make_line(world: Any, *, carrier: str = Carrier.DOCOMO, sim_type: str = SimType.DATA,
              status: str = LineStatus.ACTIVE, sim_size: str = SimSize.NANO, **extra: Any) -> Line:
    plan = extra.pop("plan", None) or PlanFactory(code=f"{carrier.upper()}-BASE", carrier=carrier)
    return LineFactory(tenant=world.tenant, plan=plan, carrier=carrier, sim_type=sim_type, status=status,
                       sim_size=sim_size, **extra)


def submit(world: Any, line: Line, kind: str, params: dict[str, Any] | None = None, key: str | None = None) -> Order:
    return services.order_submit(tenant=world.tenant, user=world.user, line_id=line.pk, kind=kind,
                                 params=params or {}, idempotency_key=key or f"k-{next(_keys)}")


def preview(world: Any, line: Line, kind: str, params: dict[str, Any] | None = None) -> services.OrderPreview:
    return services.order_preview(tenant=world.tenant, user=world.user, line_id=line.pk, kind=kind,
                                  params=params or {})


def sent(order: Order) -> Order:
    """SCHEDULED -> SENT, as the engine does when it hands the order to the carrier."""
    order = Order.objects.select_related("line", "tenant").get(pk=order.pk)
    if order.status == OrderStatus.SCHEDULED:
        order.carrier_ref = f"KSN-{order.pk}"
        order_transition(order, OrderStatus.SENT, actor="test", update_fields=["carrier_ref"])
    return order


def complete(order: Order, **result: Any) -> Order:
    order = sent(order)
    results.order_apply_result(order=order, status=CarrierStatus(state=CarrierState.COMPLETED, result=result))
    order.refresh_from_db()
    return order


def fail(order: Order, code: str = "REFUSED", message: str = "refused by the carrier") -> Order:
    order = Order.objects.select_related("line", "tenant").get(pk=order.pk)
    results.order_apply_result(order=order, status=CarrierStatus(state=CarrierState.FAILED, error_code=code,
                                                                  error_message=message))
    order.refresh_from_db()
    return order


def topics(order: Order) -> list[str]:
    return sorted(OutboxMessage.objects.filter(order=order).values_list("topic", flat=True))
