"""Catalogue prices (issue 12 §1): versioned by date like the tariffs (``kaisen.billing.versions``).

The price of an item on a day is its version with the greatest ``valid_from`` on or before that day. A
running-cost item that names a plan and has no version of its own costs the plan fee in force that day
(the plan-fee version of ``kaisen.billing``: yen for a Japan plan, dollars for a Global plan; a Japan plan
with no version costs its catalogue fee).

A new version is valid from today or later, never earlier: quotes and orders keep the prices they were
made with, and a price change never rewrites what a customer was told. A version already in force is never
edited or deleted; a scheduled one (valid from after today) may be corrected.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kaisen.billing.models import Currency, PlanTariff
from kaisen.billing.versions import in_force
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.goods.models import CatalogueItem, ItemKind, ItemPrice


def currency_of(coverage: str) -> str:
    return Currency.USD if coverage == Coverage.GLOBAL else Currency.JPY


def price_on(item: CatalogueItem, day: dt.date | None = None) -> Decimal | None:
    """The item's price (tax excluded) in force on ``day`` (default today, Japan time), or None."""
    day = day or clock.today_jst()
    version = ItemPrice.objects.filter(item=item, valid_from__lte=day).order_by("-valid_from").first()
    if version is not None:
        return version.amount
    if item.kind == ItemKind.RUNNING and item.plan_id is not None:
        tariff = in_force(PlanTariff, day, plan_id=item.plan_id)
        if tariff is not None:
            fee = tariff.usd_monthly_fee if item.coverage == Coverage.GLOBAL else tariff.jpy_monthly_fee
            if fee is not None:
                return Decimal(fee)
        if item.coverage != Coverage.GLOBAL and item.plan is not None:
            return Decimal(item.plan.monthly_fee)
    return None


def price_set(*, item: CatalogueItem, valid_from: dt.date, amount: Any, actor: str = "") -> ItemPrice:
    """Add (or correct a scheduled) price version. Refused: a date before today, a negative or non-numeric
    amount, and changing a version already in force."""
    from kaisen.audit.services import audit_record

    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not a number.") % {"value": amount},
                          field="amount") from exc
    if not value.is_finite() or value < 0:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give a price of zero or more."), field="amount")
    value = value.quantize(Decimal("0.01") if item.coverage == Coverage.GLOBAL else Decimal("1"))
    today = clock.today_jst()
    if valid_from < today:
        raise DomainError(ErrorCode.INVALID_DATE, _(
            "A price version is valid from today (%(today)s) or later: quotes and orders already made keep "
            "their prices.") % {"today": today}, field="valid_from")
    with transaction.atomic():
        CatalogueItem.objects.select_for_update().filter(pk=item.pk).first()
        version = ItemPrice.objects.filter(item=item, valid_from=valid_from).first()
        before = None
        if version is not None:
            if version.valid_from <= today:
                raise DomainError(ErrorCode.VALIDATION_ERROR, _(
                    "This version is in force and is kept: add a new version with a later date."),
                    field="valid_from")
            before = str(version.amount)
            version.amount = value
            version.save(update_fields=["amount"])
        else:
            version = ItemPrice.objects.create(item=item, valid_from=valid_from, amount=value)
        audit_record(action="goods.price.set", actor=actor or "kaisen goods", target=version,
                     changes={"item": [None, item.code], "valid_from": [None, str(valid_from)],
                              "amount": [before, str(value)]})
    return version


def catalogue(*, coverage: str, kinds: tuple[str, ...] | None = None, quotable_only: bool = False,
              day: dt.date | None = None) -> list[tuple[CatalogueItem, Decimal]]:
    """The offered items of a coverage with today's price (items without a price are left out)."""
    qs = CatalogueItem.objects.filter(is_active=True, coverage=coverage).select_related("plan")
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if quotable_only:
        qs = qs.filter(quotable=True)
    out = []
    for item in qs.order_by("kind", "position", "code"):
        price = price_on(item, day)
        if price is not None:
            out.append((item, price))
    return out
