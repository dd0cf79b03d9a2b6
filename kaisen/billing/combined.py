"""Combined billing: several accounts' bills on one invoice (S-BILL-5; seed 001 §3.4.3 ①, §3.4.4).

A company with several accounts (operator IDs) asks the operator to combine their bills: from a month on,
the *member* accounts get no invoice of their own, and the *payer* account's invoice bills every account's
charges, with a breakdown per account. The operator sets this up (back office, ``kaisen admin billing combined``);
tenants see it on their Charges pages and in the API. What it means at the close (``close.close_month``):

* each account is still rated and closed on its own — its items, its coupons (S-BILL-3: an account's
  coupons pay its own share), its long-term discounts; a member's invoice row keeps its own amounts as its
  share and gets status ``combined`` and ``combined_into`` = the payer's invoice, no number, no issue date;
* the payer's invoice is the qualified invoice of the whole: taxable and exempt totals over every account's
  items, consumption tax computed **once per rate on that sum** (X-INVOICE-JP), minus every account's
  coupons; it is issued, due and paid like any invoice, by the payer's payment method;
* one account's invoice is never split (§3.4.4): an account is either a member of one arrangement or a payer,
  never both (no chains), and never in two arrangements for the same month.

Rules for the operator: only months not closed yet can be combined, so an arrangement starts in the current
month or later, and it ends with the previous month at the earliest (``last_month``). Both accounts must be
active and have the coverage.

Tenants: the payer sees each member's operator ID, name and share (that is what the invoice prints); the
member sees that its month is billed on the payer's invoice, its number and payment status — never the
payer's amounts. Neither sees the other's per-number detail: items stay with the account they belong to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.services import authorize
from kaisen.billing.models import CombinedBilling, CouponUse, Invoice, InvoiceItem, TaxClass
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.calendar import month_start, previous_month
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.tenancy.models import Tenant

ZERO = Decimal(0)
#: How far ahead an arrangement may be set up.
MAX_MONTHS_AHEAD = 12


def _overlapping(qs: Any, first: dt.date) -> Any:
    """Arrangements still in force in ``first`` or later (``last_month`` empty or not before ``first``)."""
    return qs.filter(Q(last_month__isnull=True) | Q(last_month__gte=first))


def _covering(month: dt.date, **lookup: Any) -> Any:
    """Arrangements matching ``lookup`` that combine ``month`` (begun by then, not ended before it)."""
    month = month_start(month)
    return _overlapping(CombinedBilling.objects.filter(first_month__lte=month, **lookup), month)


def arrangement_for_member(*, member: Tenant, coverage: str, month: dt.date) -> CombinedBilling | None:
    """The arrangement that bills ``member``'s ``month`` on another account's invoice, if any."""
    return _covering(month, member=member, coverage=coverage).select_related("payer").first()


def members_of(*, payer: Tenant, coverage: str, month: dt.date) -> list[CombinedBilling]:
    """The arrangements whose members' ``month`` is billed on ``payer``'s invoice."""
    return list(_covering(month, payer=payer, coverage=coverage).select_related("member")
                .order_by("member__public_id"))


def _check_month(value: dt.date, today: dt.date) -> dt.date:
    month = month_start(value)
    current = month_start(today)
    if month < current:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _(
            "Combined billing starts in the current month (%(month)s) or later: a past month may already be "
            "closed.") % {"month": f"{current:%Y-%m}"}, field="first_month")
    if (month.year - current.year) * 12 + month.month - current.month > MAX_MONTHS_AHEAD:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Combined billing can be set up at most %(n)d months "
                                                        "ahead.") % {"n": MAX_MONTHS_AHEAD}, field="first_month")
    return month


def combined_check(*, payer: Tenant, member: Tenant, coverage: str, first_month: dt.date,
                   today: dt.date | None = None) -> dt.date:
    """Every rule of a new arrangement (the back-office form shows them before saving); returns the first
    month. ``combined_add`` runs it again with both accounts locked."""
    if coverage not in Coverage.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown coverage '%(value)s'.") % {"value": coverage},
                          field="coverage")
    if payer.pk == member.pk:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("An account cannot be combined with itself."),
                          field="member")
    first = _check_month(first_month, today or clock.today_jst())
    for tenant in (payer, member):
        if not tenant.is_active:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Account %(id)s is closed.") % {"id": tenant.public_id})
        if coverage not in (tenant.coverages or []):
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Account %(id)s has no %(coverage)s coverage.")
                              % {"id": tenant.public_id, "coverage": Coverage(coverage).label}, field="coverage")
    same = CombinedBilling.objects.filter(coverage=coverage)
    clash = _overlapping(same.filter(member=member), first).select_related("payer").first()
    if clash is not None:
        raise DomainError(ErrorCode.COMBINED_BILLING_CONFLICT, _(
            "%(member)s is already billed on the invoice of %(payer)s from %(month)s; end that first.")
            % {"member": member.public_id, "payer": clash.payer.public_id, "month": f"{clash.first_month:%Y-%m}"})
    if _overlapping(same.filter(payer=member), first).exists():
        raise DomainError(ErrorCode.COMBINED_BILLING_CONFLICT, _(
            "%(member)s pays for other accounts' bills: an account that pays for others cannot be billed on "
            "another's invoice.") % {"member": member.public_id})
    if _overlapping(same.filter(member=payer), first).exists():
        raise DomainError(ErrorCode.COMBINED_BILLING_CONFLICT, _(
            "%(payer)s is itself billed on another account's invoice, so it cannot pay for others.")
            % {"payer": payer.public_id})
    return first


@transaction.atomic
def combined_add(*, payer: Tenant, member: Tenant, coverage: str, first_month: dt.date, actor: str,
                 today: dt.date | None = None) -> CombinedBilling:
    """Bill ``member``'s months from ``first_month`` on ``payer``'s invoice (the operator's action)."""
    from kaisen.audit.services import audit_record

    # Lock both accounts, in a fixed order: two arrangements that could form a chain share an account.
    locked = {t.pk: t for t in Tenant.objects.select_for_update().filter(pk__in=[payer.pk, member.pk]).order_by("pk")}
    if len(locked) != len({payer.pk, member.pk}):
        raise NotFound(_("No such account."))
    first = combined_check(payer=locked[payer.pk], member=locked[member.pk], coverage=coverage,
                           first_month=first_month, today=today)
    row = CombinedBilling.objects.create(payer=payer, member=member, coverage=coverage, first_month=first,
                                         created_by=actor)
    changes = {"payer": [None, payer.public_id], "member": [None, member.public_id], "coverage": [None, coverage],
               "first_month": [None, f"{first:%Y-%m}"]}
    for tenant in (payer, member):
        audit_record(action="billing.combined.add", tenant=tenant, actor=actor, target=row, changes=changes)
    return row


@transaction.atomic
def combined_end(*, arrangement_id: int, last_month: dt.date, actor: str,
                 today: dt.date | None = None) -> CombinedBilling:
    """End an arrangement: ``last_month`` is the last combined month (the previous month at the earliest;
    the month before ``first_month`` withdraws one that has not started)."""
    from kaisen.audit.services import audit_record

    today = today or clock.today_jst()
    row = CombinedBilling.objects.select_for_update().select_related("payer", "member").filter(
        pk=arrangement_id).first()
    if row is None:
        raise NotFound(_("No such combined billing arrangement."))
    if row.last_month is not None:
        raise DomainError(ErrorCode.COMBINED_BILLING_CONFLICT, _("This arrangement already ended with %(month)s.")
                          % {"month": f"{row.last_month:%Y-%m}"})
    last = month_start(last_month)
    earliest = max(previous_month(month_start(today)), previous_month(row.first_month))
    if last < earliest:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _(
            "The last combined month can be %(month)s at the earliest: months before it may be closed.")
            % {"month": f"{earliest:%Y-%m}"}, field="last_month")
    row.last_month = last
    row.ended_by = actor
    row.ended_at = clock.now()
    row.save(update_fields=["last_month", "ended_by", "ended_at"])
    for tenant in (row.payer, row.member):
        audit_record(action="billing.combined.end", tenant=tenant, actor=actor, target=row,
                     changes={"last_month": [None, f"{last:%Y-%m}"]})
    return row


def combined_list(*, tenant: Tenant | None = None) -> list[CombinedBilling]:
    """Arrangements, ended ones included (the operator's view); with ``tenant``, those it pays for or is billed in."""
    qs = CombinedBilling.objects.select_related("payer", "member")
    if tenant is not None:
        qs = qs.filter(Q(payer=tenant) | Q(member=tenant))
    return list(qs.order_by("payer__public_id", "coverage", "member__public_id", "first_month"))


def tenant_arrangements(*, tenant: Tenant, user: Any) -> list[CombinedBilling]:
    """What a tenant user sees: the arrangements their account pays for or is billed in (``Billing:read``)."""
    authorize(user=user, action=actions.BILLING_READ)
    return combined_list(tenant=tenant)


def in_force(*, tenant: Tenant, today: dt.date | None = None) -> list[CombinedBilling]:
    """Arrangements of ``tenant`` that still combine the current or a later month (account deletion waits)."""
    current = month_start(today or clock.today_jst())
    return list(_overlapping(CombinedBilling.objects.filter(Q(payer=tenant) | Q(member=tenant)), current)
                .select_related("payer", "member"))


# --- the combined invoice --------------------------------------------------------------------------------

def group_items(invoice: Invoice) -> Any:
    """Every item the invoice bills: its own and those of the member invoices combined into it."""
    return InvoiceItem.objects.filter(Q(invoice=invoice) | Q(invoice__combined_into=invoice))


@dataclass(frozen=True)
class AccountShare:
    """One account's part of a combined invoice (tax excluded; coupons are the account's own)."""

    operator_id: str
    name: str
    taxable: Decimal
    exempt: Decimal
    coupon: Decimal
    payer: bool


def shares(invoice: Invoice) -> list[AccountShare]:
    """The per-account breakdown of a combined invoice, the payer first; empty for any other invoice."""
    members = list(Invoice.objects.filter(combined_into=invoice).select_related("tenant")
                   .order_by("tenant__public_id"))
    if not members:
        return []
    group = [invoice, *members]
    sums: dict[tuple[int, str], Decimal] = {}
    for invoice_id, tax_class, amount in (InvoiceItem.objects.filter(invoice__in=group).order_by()
                                          .values_list("invoice_id", "tax_class").annotate(s=Sum("amount"))):
        sums[(invoice_id, tax_class)] = amount or ZERO
    coupons = dict(CouponUse.objects.filter(invoice__in=group).order_by().values_list("invoice_id")
                   .annotate(s=Sum("amount")).values_list("invoice_id", "s"))
    return [AccountShare(operator_id=inv.tenant.public_id, name=inv.recipient_name or inv.tenant.legal_name,
                         taxable=sum((v for (i, tc), v in sums.items() if i == inv.pk and tc != TaxClass.EXEMPT), ZERO),
                         exempt=sums.get((inv.pk, TaxClass.EXEMPT), ZERO), coupon=coupons.get(inv.pk) or ZERO,
                         payer=inv.pk == invoice.pk)
            for inv in group]
