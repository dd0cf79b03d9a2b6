"""Tariff versions (issue 10 §2): every price of the catalogue carries a ``valid_from`` date, and a price
change is a new version that never re-prices a month before it.

The versioned prices: ``CallRate`` (per coverage and call type), ``FeeRate`` (per coverage, fee and plan
override), ``PlanTariff`` (a plan's yen or dollar fee and whether it includes flat-rate calling) and
``LongTermRate`` (per plan and committed term). ``TtsRate`` is keyed by its month, which is its validity.

Which version applies (``rating.py`` does it set-wise in SQL; ``in_force`` here is the same rule in Python):

* a call: the version with the greatest ``valid_from`` on or before the call's start date in Japan time;
* a month's monthly fees (plan fee, option fees, universal service fee, long-term rate, data overage price):
  the version in force on the month's first day. A version valid from the 2nd of a month or later applies to
  monthly fees from the next month.

What may change (one rule for the back office and ``kaisen admin billing tariffs set``), per coverage: the *closed
horizon* is the last day of the latest month of which an invoice of that coverage is closed, for any tenant.

* a new version must be valid from after the closed horizon (``INVOICE_CLOSED`` otherwise): it can re-price
  only months that no tenant has closed — in practice the current month or later, or the previous month
  before its close;
* a version valid from on or before the closed horizon was (or may have been) in force for a closed month:
  it is never edited or deleted (``INVOICE_CLOSED``); a change is a new version with a later date;
* a version valid from after the horizon may still be corrected or deleted (nothing closed used it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from kaisen.billing.models import (
    TARIFF_EPOCH,
    CallRate,
    ChargeCategory,
    FeeCode,
    FeeRate,
    Invoice,
    LongTermRate,
    PlanTariff,
)
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.calendar import last_day_of_month
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import Plan


@dataclass(frozen=True)
class Kind:
    """One versioned price table: the fields naming a price (``keys``) and the fields a version sets."""

    model: type[models.Model]
    keys: tuple[str, ...]
    values: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "call-rate": Kind(CallRate, ("coverage", "call_type"),
                      ("rate", "unit_seconds", "cost_type", "label", "category", "flat_rate_covered")),
    "fee": Kind(FeeRate, ("coverage", "code", "plan"), ("amount", "unit_mb")),
    "plan-fee": Kind(PlanTariff, ("plan",), ("jpy_monthly_fee", "usd_monthly_fee", "includes_flat_rate_calling")),
    "long-term": Kind(LongTermRate, ("plan", "term_months"), ("monthly_fee",)),
}
_BY_MODEL = {k.model: name for name, k in KINDS.items()}


def kind_of(obj: models.Model) -> Kind:
    return KINDS[_BY_MODEL[type(obj)]]


def coverage_of(obj: models.Model) -> str:
    """The coverage whose invoices use the price: its own, or its plan's (long-term rates: Japan plans)."""
    coverage = getattr(obj, "coverage", None)
    if coverage:
        return str(coverage)
    plan = getattr(obj, "plan", None)
    return str(plan.coverage) if plan is not None else Coverage.JAPAN


def closed_horizon(coverage: str) -> dt.date | None:
    """The last day of the latest month of which an invoice of ``coverage`` is closed (any tenant), or None."""
    month = (Invoice.objects.filter(coverage=coverage, closed_at__isnull=False)
             .aggregate(m=Max("month"))["m"])
    return last_day_of_month(month) if month is not None else None


def first_open_day(coverage: str) -> dt.date:
    """The earliest ``valid_from`` a new version of ``coverage`` may have."""
    horizon = closed_horizon(coverage)
    return horizon + dt.timedelta(days=1) if horizon is not None else TARIFF_EPOCH


def is_frozen(obj: models.Model) -> bool:
    """The version (as stored) was in force for a month that is closed: never edited or deleted."""
    horizon = closed_horizon(coverage_of(obj))
    return horizon is not None and getattr(obj, "valid_from") <= horizon  # noqa: B009


def _key_filter(obj: models.Model) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in kind_of(obj).keys:
        attname = getattr(obj._meta.get_field(name), "attname", name)
        out[attname] = getattr(obj, attname)
    return out


def in_force(model: type[models.Model], day: dt.date, **key: Any) -> Any:
    """The version of the price named by ``key`` in force on ``day``, or None."""
    return (model._default_manager.filter(valid_from__lte=day, **key)  # type: ignore[attr-defined]
            .order_by("-valid_from").first())


def status_of(obj: models.Model, *, today: dt.date | None = None) -> str:
    """``in force`` / ``scheduled`` / ``superseded``, as of today (Japan time)."""
    today = today or clock.today_jst()
    valid_from: dt.date = getattr(obj, "valid_from")  # noqa: B009
    if valid_from > today:
        return "scheduled"
    current = in_force(type(obj), today, **_key_filter(obj))
    return "in force" if current is not None and current.pk == obj.pk else "superseded"


def check_version(obj: models.Model) -> None:
    """Refuse a version (new, or a change of a stored one) that would re-price a closed month."""
    coverage = coverage_of(obj)
    horizon = closed_horizon(coverage)
    if horizon is None:
        return
    if obj.pk is not None:
        stored: Any = type(obj)._default_manager.filter(pk=obj.pk).first()
        if stored is not None and getattr(stored, "valid_from") <= horizon:  # noqa: B009
            raise DomainError(ErrorCode.INVOICE_CLOSED, _(
                "This version (valid from %(day)s) was in force for a closed month (invoices of %(month)s are "
                "closed). It cannot change: add a new version valid from %(first)s or later.")
                % {"day": stored.valid_from, "month": f"{horizon:%Y-%m}", "first": horizon + dt.timedelta(days=1)})
    valid_from: dt.date = getattr(obj, "valid_from")  # noqa: B009
    if valid_from <= horizon:
        raise DomainError(ErrorCode.INVOICE_CLOSED, _(
            "Invoices of %(month)s (%(coverage)s) are closed: a price change must be valid from %(first)s or "
            "later, so it never re-prices a closed month.")
            % {"month": f"{horizon:%Y-%m}", "coverage": coverage, "first": horizon + dt.timedelta(days=1)},
            field="valid_from")


def check_delete(obj: models.Model) -> None:
    if is_frozen(obj):
        raise DomainError(ErrorCode.INVOICE_CLOSED, _(
            "This version (valid from %(day)s) was in force for a closed month; it is kept.")
            % {"day": getattr(obj, "valid_from")})  # noqa: B009


def _validate(kind_name: str, obj: Any) -> None:
    def bad(field: str, message: str) -> DomainError:
        return DomainError(ErrorCode.VALIDATION_ERROR, message, field=field)

    if kind_name == "call-rate":
        if obj.rate is None or obj.rate < 0:
            raise bad("rate", _("Give a rate of zero or more."))
        if not obj.cost_type or not obj.label or obj.category not in ChargeCategory.values:
            raise bad("label", _("A new call type needs its cost type, label and category."))
    elif kind_name == "fee":
        if obj.amount is None or obj.amount < 0:
            raise bad("amount", _("Give an amount of zero or more."))
        if obj.code not in FeeCode.values:
            raise bad("code", _("Unknown fee %(code)s.") % {"code": obj.code})
    elif kind_name == "plan-fee":
        if obj.plan.coverage == Coverage.GLOBAL and obj.usd_monthly_fee is None:
            raise bad("usd_monthly_fee", _("A Global plan's fee is in US dollars: give the USD monthly fee."))
        if obj.plan.coverage != Coverage.GLOBAL and obj.jpy_monthly_fee is None:
            raise bad("jpy_monthly_fee", _("Give the plan's monthly fee in yen."))
        if obj.usd_monthly_fee is not None and obj.usd_monthly_fee < 0:
            raise bad("usd_monthly_fee", _("Give an amount of zero or more."))
    elif kind_name == "long-term":
        if obj.plan.coverage != Coverage.JAPAN:
            raise bad("plan", _("Long-term discounts exist for Japan plans only."))
        if obj.monthly_fee is None:
            raise bad("monthly_fee", _("Give the discounted monthly fee."))


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not a number.") % {"value": value},
                          field=field) from exc
    if not number.is_finite():
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not a number.") % {"value": value},
                          field=field)
    return number


def _coerce(model: type[models.Model], name: str, value: Any) -> Any:
    if value is None:
        return None
    field = model._meta.get_field(name)
    if isinstance(field, models.DecimalField):
        return _decimal(value, name).quantize(Decimal(1).scaleb(-(field.decimal_places or 0)))
    if isinstance(field, models.PositiveIntegerField):
        number = _decimal(value, name)
        if number < 0 or number != number.to_integral_value():
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("'%(value)s' is not a whole number of zero or more.")
                              % {"value": value}, field=name)
        return int(number)
    if isinstance(field, models.BooleanField):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    return str(value)


def _sync_plan_catalogue(plan: Plan, *, today: dt.date | None = None) -> None:
    """Keep ``lines.Plan.monthly_fee`` (the catalogue price customers see) at the Japan fee in force today."""
    if plan.coverage == Coverage.GLOBAL:
        return
    current = in_force(PlanTariff, today or clock.today_jst(), plan=plan)
    if current is not None and current.jpy_monthly_fee is not None and current.jpy_monthly_fee != plan.monthly_fee:
        Plan.objects.filter(pk=plan.pk).update(monthly_fee=current.jpy_monthly_fee)
        plan.monthly_fee = current.jpy_monthly_fee


def plan_catalogue_sync(*, today: dt.date | None = None) -> int:
    """Scheduled with the hourly rating: a plan fee version that took effect since brings the catalogue
    price along. Returns the plans updated."""
    changed = 0
    for plan in Plan.objects.filter(tariffs__jpy_monthly_fee__isnull=False).distinct():
        before = plan.monthly_fee
        _sync_plan_catalogue(plan, today=today)
        changed += int(plan.monthly_fee != before)
    return changed


@transaction.atomic
def tariff_version_save(*, obj: models.Model, actor: str = "", audit: bool = True) -> models.Model:
    """Save a version (new, or a correction of one no closed month used) after ``check_version``."""
    from kaisen.audit.services import audit_record

    kind_name = _BY_MODEL[type(obj)]
    # Serialise against a concurrent close: the horizon is read under the lock of the price's other versions.
    list(type(obj)._default_manager.select_for_update().filter(**_key_filter(obj)).order_by("pk")
         .values_list("pk", flat=True))
    check_version(obj)
    _validate(kind_name, obj)
    obj.full_clean(validate_unique=False, validate_constraints=False)
    before = None
    if obj.pk is not None:
        before = type(obj)._default_manager.filter(pk=obj.pk).first()
    obj.save()
    if audit:
        changes = {name: [str(getattr(before, name)) if before is not None else None, str(getattr(obj, name))]
                   for name in (*kind_of(obj).keys, "valid_from", *kind_of(obj).values)
                   if before is None or getattr(before, name) != getattr(obj, name)}
        audit_record(action=f"billing.tariff.{'update' if before is not None else 'version'}", actor=actor or
                     "kaisen billing", target=obj, changes=changes)
    plan = getattr(obj, "plan", None)
    if isinstance(obj, PlanTariff) and plan is not None:
        _sync_plan_catalogue(plan)
    _rerate(obj, before)
    return obj


def _rerate(obj: models.Model, before: models.Model | None) -> None:
    """Re-rate the stored calls a new or corrected version can price differently, and only those (issue 10
    §4): a call rate — the calls of its type started from its day on; a plan fee (whose flat-rate calling
    makes calls free) — the calls of the lines on that plan from its day on. Only open months (a version
    never starts in or before a closed one, ``check_version``). Other prices do not price calls: the
    monthly fees are computed at rating from the versions in force on the month's first day."""
    from kaisen.billing.rating import rerate_calls

    since: dt.date = getattr(obj, "valid_from")  # noqa: B009
    if before is not None:
        since = min(since, getattr(before, "valid_from"))  # noqa: B009
    if isinstance(obj, CallRate):
        rerate_calls(call_type=obj.call_type, since=since)
    elif isinstance(obj, PlanTariff):
        rerate_calls(plan_id=obj.plan_id, since=since)


@transaction.atomic
def tariff_new_version(*, kind: str, key: dict[str, Any], valid_from: dt.date, values: dict[str, Any],
                       actor: str = "") -> models.Model:
    """Make the price named by ``key`` (``KINDS[kind].keys``; ``plan`` a ``lines.Plan``) cost ``values`` from
    ``valid_from``. Fields not given are those of the version in force on that day (or, for a price with no
    version yet, the next one). Giving the date of an existing version that no closed month used corrects it.

    Refused: ``VALIDATION_ERROR`` (unknown kind, bad value), ``INVOICE_CLOSED`` (a date in or before a closed
    month)."""
    spec = KINDS.get(kind)
    if spec is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown tariff kind %(kind)s (one of: %(kinds)s).")
                          % {"kind": kind, "kinds": ", ".join(KINDS)}, field="kind")
    unknown = set(values) - set(spec.values)
    if unknown:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("A %(kind)s has no %(fields)s.")
                          % {"kind": kind, "fields": ", ".join(sorted(unknown))}, field=sorted(unknown)[0])
    missing = [k for k in spec.keys if k not in key and k != "plan"]
    if missing:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Name the price: give %(fields)s.")
                          % {"fields": ", ".join(missing)}, field=missing[0])
    model = spec.model
    key = {k: key.get(k) for k in spec.keys}
    if "coverage" in key and key["coverage"] not in Coverage.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown coverage %(coverage)s.")
                          % {"coverage": key["coverage"]}, field="coverage")
    if kind in ("plan-fee", "long-term") and key.get("plan") is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Name the plan."), field="plan")
    if "term_months" in key:
        key["term_months"] = _coerce(model, "term_months", key["term_months"])
    lookup = dict(key)  # ``plan=None`` (a fee's coverage default) filters on IS NULL
    existing = model._default_manager.filter(valid_from=valid_from, **lookup).first()  # type: ignore[attr-defined]
    if kind == "plan-fee" and not model._default_manager.filter(**lookup).exists():  # type: ignore[attr-defined]
        plan: Plan = key["plan"]
        if valid_from > TARIFF_EPOCH:
            # The plan was billed its catalogue fee until now: that price becomes the first version.
            PlanTariff.objects.create(plan=plan, valid_from=TARIFF_EPOCH,
                                      jpy_monthly_fee=None if plan.coverage == Coverage.GLOBAL else plan.monthly_fee)
    base = existing or in_force(model, valid_from, **lookup) or (
        model._default_manager.filter(**lookup).order_by("valid_from").first())  # type: ignore[attr-defined]
    obj: Any = existing or model(**key, valid_from=valid_from)
    if base is not None and existing is None:
        for name in spec.values:
            setattr(obj, name, getattr(base, name))
    for name, value in values.items():
        setattr(obj, name, _coerce(model, name, value))
    return tariff_version_save(obj=obj, actor=actor)


def version_row(obj: Any, *, today: dt.date | None = None) -> dict[str, Any]:
    """A version as the CLI prints it."""
    spec = kind_of(obj)
    row: dict[str, Any] = {"kind": _BY_MODEL[type(obj)]}
    for name in (*spec.keys, "valid_from", *spec.values):
        value = getattr(obj, name)
        if isinstance(value, Plan):
            value = value.code
        elif isinstance(value, Decimal | dt.date):
            value = str(value)
        row[name] = value
    row["status"] = status_of(obj, today=today)
    row["frozen"] = is_frozen(obj)
    return row


def tariff_versions(*, kind: str | None = None, include_superseded: bool = True) -> list[dict[str, Any]]:
    """Every version of the catalogue (or of one ``kind``), newest first per price."""
    today = clock.today_jst()
    out = []
    for name, spec in KINDS.items():
        if kind and name != kind:
            continue
        qs = spec.model._default_manager.all()  # type: ignore[attr-defined]
        if "plan" in spec.keys:
            qs = qs.select_related("plan")
        for obj in qs:
            row = version_row(obj, today=today)
            if include_superseded or row["status"] != "superseded":
                out.append(row)
    return out
