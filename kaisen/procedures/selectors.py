"""Reading orders. Every function takes the tenant: another tenant's order is NotFound (T-2)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.services import authorize, can, line_scope
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.paging import Page, SortKey, keyset_page
from kaisen.lines.models import Line, LineStatus
from kaisen.procedures.models import PENDING_STATUSES, Order, OrderEvent, OrderKind, OrderStatus
from kaisen.tenancy.models import Tenant

MAX_PAGE_SIZE = 500
#: Newest first; the id is monotonic with the acceptance time and keeps paging a pure index range scan.
ORDER_SORT = SortKey("id", descending=True)


def order_get(*, tenant: Tenant, order_id: int, user: Any = None, own: bool = False) -> Order:
    """With ``user``: ``Order:read``, and an order on a line outside the user's lines is NotFound. With
    ``own``, a user without ``Order:read`` may still read an order they placed themselves (its complete page)."""
    qs = Order.objects.filter(tenant=tenant, pk=order_id)
    if user is not None:
        if own and not can(user=user, action=actions.ORDER_READ):
            qs = qs.filter(requested_by=user)
        else:
            authorize(user=user, action=actions.ORDER_READ)
    order = (qs.filter(line_scope(user=user, prefix="line__"))
             .select_related("line", "line__plan", "tenant", "requested_by").first())
    if order is None:
        raise NotFound(_("No such order."))
    return order


def order_list(*, tenant: Tenant, line_id: int | None = None, status: str = "", kind: str = "",
               cursor: str | None = None, size: int = 50, user: Any = None) -> Page[Order]:
    if user is not None:
        authorize(user=user, action=actions.ORDER_READ)
    qs = (Order.objects.filter(tenant=tenant).filter(line_scope(user=user, prefix="line__"))
          .select_related("line", "requested_by"))
    if line_id is not None:
        qs = qs.filter(line_id=line_id)
    if status:
        if status == "pending":
            qs = qs.filter(status__in=PENDING_STATUSES)
        elif status in OrderStatus.values:
            qs = qs.filter(status=status)
        else:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not an order status.") % {"value": status},
                              field="status")
    if kind:
        if kind not in OrderKind.values:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not a procedure.") % {"value": kind},
                              field="kind")
        qs = qs.filter(kind=kind)
    size = max(1, min(size, MAX_PAGE_SIZE))
    return keyset_page(qs, key=ORDER_SORT, size=size, cursor=cursor)


def line_pending_orders(*, tenant: Tenant, line: Line) -> list[Order]:
    """Accepted changes not applied yet (the status page's "pending changes" panel), oldest first."""
    return list(Order.objects.filter(tenant=tenant, line=line, status__in=PENDING_STATUSES)
                .select_related("requested_by").order_by("effective_date", "id"))


def order_events(*, tenant: Tenant, order: Order) -> list[OrderEvent]:
    if order.tenant_id != tenant.pk:
        raise NotFound(_("No such order."))
    return list(OrderEvent.objects.filter(tenant=tenant, order=order).order_by("at", "id"))


def mnp_waiting_list(*, tenant: Tenant, user: Any = None) -> QuerySet[Line]:
    """Lines waiting for an MNP port-in activation (M-MNP-1): docomo half-black SIMs not activated yet,
    with the phone number, ship date and reservation expiry; the soonest expiry first."""
    if user is not None:
        authorize(user=user, action=actions.LINE_READ)
    return (Line.objects.filter(tenant=tenant, mnp_port_in_pending=True, status=LineStatus.NOT_ACTIVATED)
            .filter(line_scope(user=user))
            .select_related("plan").order_by("mnp_port_in_expires_on", "msisdn", "id"))
