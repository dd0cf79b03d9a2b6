from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from kaisen.access.actions import ACCOUNT_MANAGE, ACCOUNT_READ, LINE_TRANSFER
from kaisen.access.services import authorize, line_scope
from kaisen.core import clock
from kaisen.core.errors import NotFound
from kaisen.lines.models import Line, LineStatus
from kaisen.tenancy.models import (
    ContractService,
    DialInNumber,
    SimTransfer,
    SimTransferLine,
    Tenant,
    TransferStatus,
)

if TYPE_CHECKING:
    from kaisen.accounts.models import User


# --- account pages (issue 5 §7; K-1, K-2, S-ACC-4, S-ACC-5) -------------------------------------------

@dataclass(frozen=True)
class ContractSummary:
    """K-1: what the self page's contract summary shows."""

    tenant: Tenant
    lines_total: int
    lines_by_status: dict[str, int]
    dial_in_count: int
    services: list[ContractService]


def contract_summary(*, user: User) -> ContractSummary:
    """The contract of the user's tenant. Counts are of the whole contract (they are contract facts)."""
    from kaisen.lines.selectors import line_summary

    tenant = _tenant_of(user)
    authorize(user=user, action=ACCOUNT_READ)
    summary = line_summary(tenant=tenant)
    return ContractSummary(
        tenant=tenant, lines_total=summary.total, lines_by_status=summary.by_status,
        dial_in_count=DialInNumber.objects.filter(tenant=tenant).count(),
        services=list(ContractService.objects.filter(tenant=tenant).order_by("position", "id")),
    )


def _tenant_of(user: User) -> Tenant:
    if user.tenant is None:
        raise NotFound()
    return user.tenant


@dataclass(frozen=True)
class NumberDetail:
    """K-2: one phone number of the contract, with its neighbours for NEXT / BACK."""

    line: Line
    dial_in: DialInNumber | None
    base_number: str
    prev_id: int | None
    next_id: int | None


def _numbered_lines(user: User, tenant: Tenant) -> QuerySet[Line]:
    return Line.objects.filter(tenant=tenant, msisdn__isnull=False).filter(line_scope(user=user))


def number_detail(*, user: User, line_id: int | None = None) -> NumberDetail:
    """One numbered line of the user's tenant (the first by number when ``line_id`` is None).

    Ordered by (msisdn, id); NEXT / BACK are one keyset step each, ``msisdn >= v AND (msisdn > v OR id > pk)``
    — an index range on (tenant, msisdn, id) — so the millionth number costs what the first does. A limited
    user pages only through the lines ``line_scope`` lets them see; any other line is NotFound.
    """
    tenant = _tenant_of(user)
    authorize(user=user, action=ACCOUNT_READ)
    qs = _numbered_lines(user, tenant)
    if line_id is None:
        line = qs.select_related("plan").order_by("msisdn", "id").first()
    else:
        line = qs.select_related("plan").filter(pk=line_id).first()
    if line is None:
        raise NotFound(_("No such phone number."))
    m, pk = line.msisdn, line.pk
    nxt = (qs.filter(Q(msisdn__gte=m) & (Q(msisdn__gt=m) | Q(id__gt=pk)))
           .order_by("msisdn", "id").values_list("id", flat=True).first())
    prev = (qs.filter(Q(msisdn__lte=m) & (Q(msisdn__lt=m) | Q(id__lt=pk)))
            .order_by("-msisdn", "-id").values_list("id", flat=True).first())
    dial_in = DialInNumber.objects.filter(tenant=tenant, line=line).first()
    return NumberDetail(line=line, dial_in=dial_in, base_number=tenant.base_number, prev_id=prev, next_id=nxt)


# --- SIM transfer (S-ACC-4) ---------------------------------------------------------------------------

def lines_transfer_blockers(lines: list[Line]) -> dict[int, list[str]]:
    """Why each of ``lines`` cannot be transferred (empty list: never used), by line id. Codes, for people and
    programs. One query per table for all the lines, not per line (a transfer has up to 1000)."""
    from kaisen.procedures.models import PENDING_STATUSES, Order
    from kaisen.usage.models import CallRecord, DataUsageDaily

    ids = [line.pk for line in lines]

    def having(qs: QuerySet[Any]) -> set[int]:
        return set(qs.filter(line_id__in=ids).values_list("line_id", flat=True).distinct().order_by())

    used = having(CallRecord.objects.all()) | having(DataUsageDaily.objects.all())
    ordered = having(Order.objects.all())
    open_ordered = having(Order.objects.filter(status__in=PENDING_STATUSES)) if ordered else set()
    dialled = having(DialInNumber.objects.all())
    out: dict[int, list[str]] = {}
    for line in lines:
        reasons = []
        if line.status != LineStatus.NOT_ACTIVATED:
            reasons.append("status")
        if line.started_on is not None:
            reasons.append("started")
        if line.pk in used:
            reasons.append("usage")
        # Any order, not only an open one: the sender's order history names the line, and after the move it
        # would name another account's line.
        if line.pk in ordered:
            reasons.append("open_order" if line.pk in open_ordered else "had_order")
        if line.pk in dialled:
            reasons.append("dial_in")
        out[line.pk] = reasons
    return out


BLOCKER_LABELS = {
    "status": _("the SIM is activated, suspended or cancelled"),
    "started": _("the line has a start date (it has been used)"),
    "usage": _("the SIM has call or data usage"),
    "open_order": _("a procedure on the line is still open"),
    "had_order": _("procedures have been applied to the line"),
    "dial_in": _("a fixed dial-in number is linked to it"),
    "in_transfer": _("it is already in another open transfer"),
}


def transfer_candidates(*, user: User, limit: int = 200) -> list[Line]:
    """Lines that look transferable (status and start date), first ``limit`` by number. The full check
    (usage, open orders) runs when the transfer is made."""
    tenant = _tenant_of(user)
    authorize(user=user, action=LINE_TRANSFER)
    busy = SimTransferLine.objects.filter(transfer__from_tenant=tenant, transfer__status=TransferStatus.OPEN,
                                          transfer__expires_at__gt=clock.now()).values("line_id")
    return list(Line.objects.filter(tenant=tenant, status=LineStatus.NOT_ACTIVATED, started_on__isnull=True)
                .filter(line_scope(user=user)).exclude(pk__in=busy).select_related("plan")
                .order_by("msisdn", "id")[:limit])


def transfer_list(*, user: User) -> list[SimTransfer]:
    """The tenant's transfers: sent, and accepted from others."""
    tenant = _tenant_of(user)
    authorize(user=user, action=LINE_TRANSFER)
    return list(SimTransfer.objects.filter(Q(from_tenant=tenant) | Q(to_tenant=tenant))
                .select_related("from_tenant", "to_tenant").annotate(n_lines=Count("items"))
                .order_by("-created_at", "-id")[:200])


def transfer_get(*, user: User, transfer_id: int) -> SimTransfer:
    """A transfer the tenant sent or received; any other is NotFound."""
    tenant = _tenant_of(user)
    authorize(user=user, action=LINE_TRANSFER)
    transfer = (SimTransfer.objects.filter(Q(from_tenant=tenant) | Q(to_tenant=tenant), pk=transfer_id)
                .select_related("from_tenant", "to_tenant").first())
    if transfer is None:
        raise NotFound(_("No such transfer."))
    return transfer


def transfer_items(transfer: SimTransfer) -> list[SimTransferLine]:
    return list(transfer.items.select_related("line", "line__plan").order_by("msisdn", "iccid"))


def transfer_is_open(transfer: SimTransfer) -> bool:
    return transfer.status == TransferStatus.OPEN and transfer.expires_at > clock.now()


# --- account deletion (S-ACC-5) -----------------------------------------------------------------------

@dataclass(frozen=True)
class DeletionBlockers:
    """What still stands in the way of deleting the account; empty lists mean it can be deleted."""

    lines_by_status: dict[str, int]
    open_orders: int
    unsettled_invoices: list[Any]
    applied_services: list[ContractService]
    #: S-BILL-5 arrangements that still combine this or a later month (the operator ends them).
    combined_billing: list[Any]

    @property
    def ok(self) -> bool:
        return not (self.lines_by_status or self.open_orders or self.unsettled_invoices or self.applied_services
                    or self.combined_billing)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines_not_cancelled": self.lines_by_status,
            "open_orders": self.open_orders,
            "unsettled_invoices": [{"month": f"{i.month:%Y-%m}", "coverage": i.coverage, "status": i.status,
                                    "total": str(i.total), "currency": i.currency}
                                   for i in self.unsettled_invoices],
            "services_applied": [s.name for s in self.applied_services],
            "combined_billing": [{"payer": c.payer.public_id, "member": c.member.public_id, "coverage": c.coverage}
                                 for c in self.combined_billing],
        }


def deletion_blockers_of(tenant: Tenant) -> DeletionBlockers:
    from kaisen.billing.combined import in_force
    from kaisen.billing.models import Invoice, InvoiceStatus
    from kaisen.procedures.models import PENDING_STATUSES, Order

    by_status = dict(Line.objects.filter(tenant=tenant).exclude(status=LineStatus.CANCELLED).order_by()
                     .values_list("status").annotate(n=Count("*")).values_list("status", "n"))
    open_orders = Order.objects.filter(tenant=tenant, status__in=PENDING_STATUSES).count()
    settled = [InvoiceStatus.PAID, InvoiceStatus.NO_CHARGE]
    invoices = list(Invoice.objects.filter(tenant=tenant).exclude(status__in=settled)
                    .exclude(status=InvoiceStatus.ACCUMULATING, total=0)
                    # a month billed on another account's invoice (S-BILL-5) is settled when that one is
                    .exclude(status=InvoiceStatus.COMBINED, combined_into__status__in=settled)
                    .order_by("month", "coverage"))
    services = list(ContractService.objects.filter(tenant=tenant, applied=True).order_by("position", "id"))
    return DeletionBlockers(lines_by_status=by_status, open_orders=open_orders, unsettled_invoices=invoices,
                            applied_services=services, combined_billing=in_force(tenant=tenant))


def deletion_blockers(*, user: User) -> DeletionBlockers:
    tenant = _tenant_of(user)
    authorize(user=user, action=ACCOUNT_MANAGE)
    return deletion_blockers_of(tenant)
