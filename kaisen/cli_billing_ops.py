"""``kaisen billing``: the operator's rating and monthly close (issue 4 §2-§3). Server side, like ``kaisen
demo``: Django runs in this process against ``DATABASE_URL`` / ``KAISEN_DATA_DIR``. Every command prints
JSON; a refusal prints ``CODE: message`` on stderr and exits 1.

    kaisen billing rate --month 2026-10 [--tenant OP…] [--coverage japan] [--rerate]
    kaisen billing close --month 2026-10 [--tenant OP…] [--coverage global] [--today 2026-11-05]
    kaisen billing issue-due
    kaisen billing tts-rate set 2026-10 149.52 | tts-rate list
    kaisen billing coupons add --tenant OP… --amount 50000 --code C-1 [--coverage] [--purchased-on] [--expires-on]
    kaisen billing coupons list [--tenant OP…]
    kaisen billing discounts add --tenant OP… --msisdn 090… --term 24 --from 2026-01 | discounts list
    kaisen billing combined add --payer OP… --member OP… [--coverage japan] [--from 2026-12]
    kaisen billing combined end ID [--last-month 2027-03] | combined list [--tenant OP…]
    kaisen billing tariffs [list [--kind call-rate] [--current]]
    kaisen billing tariffs set call-rate --coverage japan --call-type domestic --rate 22 --from 2027-01-01

The customer-facing ``kaisen bills`` (invoices, PDF) calls the REST API instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

billing_ops_app = typer.Typer(help="Operator: rating, monthly close, TTS rates, coupons, long-term discounts "
                                   "(issue 4; server side).", no_args_is_help=True)
tts_app = typer.Typer(help="Monthly average TTS rates (JPY per USD) for Global invoices (S-COV-1).",
                      no_args_is_help=True)
coupons_app = typer.Typer(help="Prepaid coupons (S-BILL-3).", no_args_is_help=True)
discounts_app = typer.Typer(help="Long-term discounts of Japan plans (S-BILL-4).", no_args_is_help=True)
billing_ops_app.add_typer(tts_app, name="tts-rate")
billing_ops_app.add_typer(coupons_app, name="coupons")
combined_app = typer.Typer(help="Combined billing: several accounts' bills on one invoice (S-BILL-5).",
                           no_args_is_help=True)
billing_ops_app.add_typer(discounts_app, name="discounts")
billing_ops_app.add_typer(combined_app, name="combined")

MonthOpt = Annotated[str, typer.Option("--month", help="Month of use, YYYY-MM.")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Operator ID (OP + 10 digits); default: every tenant.")]
CoverageOpt = Annotated[str | None, typer.Option("--coverage", help="japan | global; default: the tenant's coverages.")]


def _setup() -> None:
    from kaisen.cli import _django

    _django()


def _out(data: Any) -> None:
    from kaisen.cli import _print_json

    _print_json(data)


def _fail(exc: Exception) -> None:
    code = getattr(exc, "code", "ERROR")
    typer.echo(f"{code}: {getattr(exc, 'message', exc)}", err=True)
    raise typer.Exit(1)


def _tenants(public_id: str | None) -> list[Any]:
    from kaisen.core.errors import DomainError, ErrorCode
    from kaisen.tenancy.models import Tenant

    if public_id:
        tenant = Tenant.objects.filter(public_id=public_id).first()
        if tenant is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"No tenant {public_id}.")
        return [tenant]
    return list(Tenant.objects.filter(is_active=True).order_by("pk"))


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        from kaisen.core.errors import DomainError, ErrorCode

        raise DomainError(ErrorCode.INVALID_DATE, f"'{value}' is not a date (YYYY-MM-DD).") from exc


def invoice_dict(invoice: Any) -> dict[str, Any]:
    return {"id": invoice.pk, "tenant": invoice.tenant.public_id, "coverage": invoice.coverage,
            "month": f"{invoice.month:%Y-%m}", "status": invoice.status, "number": invoice.number,
            "currency": invoice.currency, "taxable_total": str(invoice.taxable_total),
            "tax_total": str(invoice.tax_total), "exempt_total": str(invoice.exempt_total),
            "coupon_applied": str(invoice.coupon_applied), "total": str(invoice.total),
            "jpy_rate": str(invoice.jpy_rate) if invoice.jpy_rate is not None else None,
            "total_jpy": invoice.total_jpy,
            "final_on": invoice.final_on, "issued_on": invoice.issued_on, "due_on": invoice.due_on}


def _month_or_today(value: str | None) -> dt.date:
    """``YYYY-MM`` as its first day; none given: today (the current month)."""
    from kaisen.billing.services import parse_month
    from kaisen.core import clock

    return parse_month(value) if value else clock.today_jst()


def combined_dict(row: Any) -> dict[str, Any]:
    return {"id": row.pk, "payer": row.payer.public_id, "member": row.member.public_id, "coverage": row.coverage,
            "first_month": f"{row.first_month:%Y-%m}",
            "last_month": f"{row.last_month:%Y-%m}" if row.last_month else None,
            "created_by": row.created_by, "ended_by": row.ended_by}


@combined_app.command("add")
def combined_add_command(
    payer: Annotated[str, typer.Option("--payer", help="Operator ID of the account that receives and pays the "
                                                       "invoice (統合先).")],
    member: Annotated[str, typer.Option("--member", help="Operator ID of the account billed on it (統合元).")],
    coverage: Annotated[str, typer.Option(help="japan | global")] = "japan",
    first_month: Annotated[str | None, typer.Option("--from", help="First combined month, YYYY-MM (default: the "
                                                                   "current month).")] = None,
) -> None:
    """Bill MEMBER's months on PAYER's invoice, with a per-account breakdown, from a month not closed yet."""
    _setup()
    from kaisen.billing.combined import combined_add
    from kaisen.core.errors import DomainError

    try:
        row = combined_add(payer=_tenants(payer)[0], member=_tenants(member)[0], coverage=coverage,
                           first_month=_month_or_today(first_month),
                           actor="kaisen billing combined add")
    except DomainError as exc:
        _fail(exc)
    _out(combined_dict(row))


@combined_app.command("end")
def combined_end_command(
    arrangement_id: Annotated[int, typer.Argument(help="The arrangement's id (`kaisen billing combined list`).")],
    last_month: Annotated[str | None, typer.Option("--last-month", help="Last combined month, YYYY-MM (default: "
                                                                        "the current month).")] = None,
) -> None:
    """End combined billing: the member gets its own invoices again after LAST-MONTH."""
    _setup()
    from kaisen.billing.combined import combined_end
    from kaisen.core.errors import DomainError

    try:
        row = combined_end(arrangement_id=arrangement_id, last_month=_month_or_today(last_month),
                           actor="kaisen billing combined end")
    except DomainError as exc:
        _fail(exc)
    _out(combined_dict(row))


@combined_app.command("list")
def combined_list_command(tenant: TenantOpt = None) -> None:
    """Every arrangement (or one account's), ended ones included."""
    _setup()
    from kaisen.billing.combined import combined_list
    from kaisen.core.errors import DomainError

    try:
        rows = combined_list(tenant=_tenants(tenant)[0] if tenant else None)
    except DomainError as exc:
        _fail(exc)
    _out([combined_dict(r) for r in rows])


@billing_ops_app.command("rate")
def rate_command(month: MonthOpt, tenant: TenantOpt = None, coverage: CoverageOpt = None,
                 rerate: Annotated[bool, typer.Option(help="Re-rate every call of the month (after a tariff "
                                                          "change), not only new ones.")] = False) -> None:
    """Rate a month: call charges and the provisional invoice items (refused on a closed month)."""
    _setup()
    from kaisen.billing.rating import rate_month
    from kaisen.billing.services import parse_month
    from kaisen.core.errors import DomainError

    try:
        start = parse_month(month)
        out = []
        for t in _tenants(tenant):
            for cov in [coverage] if coverage else t.coverages:
                r = rate_month(tenant=t, coverage=cov, month=start, rerate=rerate)
                out.append({**invoice_dict(r.invoice), "calls_rated": r.calls_rated, "items": r.items,
                            "unrated_calls": r.unrated_calls})
    except DomainError as exc:
        _fail(exc)
    _out(out)


@billing_ops_app.command("close")
def close_command(month: MonthOpt, tenant: TenantOpt = None, coverage: CoverageOpt = None,
                  today: Annotated[str | None, typer.Option(help="Business date (default: today, Japan).")] = None,
                  ) -> None:
    """Close a month (S-BILL-1). Idempotent: a closed invoice is returned unchanged. Exits 1 if any refused."""
    _setup()
    from kaisen.billing.close import close_month
    from kaisen.billing.services import parse_month
    from kaisen.core.errors import DomainError

    failed = False
    out: list[dict[str, Any]] = []
    try:
        start = parse_month(month)
        day = _date(today)
        targets = [(t, cov) for t in _tenants(tenant) for cov in ([coverage] if coverage else t.coverages)]
    except DomainError as exc:
        _fail(exc)
    for t, cov in targets:
        try:
            out.append(invoice_dict(close_month(tenant=t, coverage=cov, month=start, today=day,
                                               actor="kaisen billing close")))
        except DomainError as exc:
            failed = True
            out.append({"tenant": t.public_id, "coverage": cov, "month": f"{start:%Y-%m}", "error": str(exc.code),
                        "message": str(exc.message)})
    _out(out)
    if failed:
        raise typer.Exit(1)


@billing_ops_app.command("issue-due")
def issue_due_command(today: Annotated[str | None, typer.Option(help="Business date (default: today).")] = None,
                      ) -> None:
    """Mark final invoices whose issue date (4th business day) has come as invoiced."""
    _setup()
    from kaisen.billing.close import issue_due

    _out({"invoiced": issue_due(today=_date(today))})


@tts_app.command("set")
def tts_set(month: Annotated[str, typer.Argument(help="YYYY-MM")],
            jpy_per_usd: Annotated[str, typer.Argument(help="Average TTS of the month, e.g. 149.52")]) -> None:
    """Enter the month's average TTS rate (refused once a Global invoice of the month is closed at another)."""
    _setup()
    from kaisen.billing.services import parse_month, tts_rate_set
    from kaisen.core.errors import DomainError

    try:
        rate = tts_rate_set(month=parse_month(month), jpy_per_usd=jpy_per_usd, entered_by="kaisen billing")
    except DomainError as exc:
        _fail(exc)
    _out({"month": f"{rate.month:%Y-%m}", "jpy_per_usd": str(rate.jpy_per_usd)})


@tts_app.command("list")
def tts_list() -> None:
    _setup()
    from kaisen.billing.models import TtsRate

    _out([{"month": f"{r.month:%Y-%m}", "jpy_per_usd": str(r.jpy_per_usd), "entered_by": r.entered_by}
          for r in TtsRate.objects.order_by("-month")])


@coupons_app.command("add")
def coupons_add(tenant: Annotated[str, typer.Option("--tenant", help="Operator ID.")],
                amount: Annotated[str, typer.Option(help="Amount in the coverage's currency.")],
                code: Annotated[str, typer.Option(help="Coupon code (unique).")],
                coverage: Annotated[str, typer.Option(help="japan | global")] = "japan",
                purchased_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")] = None,
                expires_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: never).")] = None) -> None:
    """Register a prepaid coupon; the next closes consume it before anything is billed."""
    _setup()
    from kaisen.billing.services import coupon_add
    from kaisen.core import clock
    from kaisen.core.errors import DomainError

    try:
        c = coupon_add(tenant=_tenants(tenant)[0], coverage=coverage, code=code, amount=amount,
                       purchased_on=_date(purchased_on) or clock.today_jst(), expires_on=_date(expires_on),
                       actor="kaisen billing coupons add")
    except DomainError as exc:
        _fail(exc)
    _out({"code": c.code, "amount": str(c.amount), "balance": str(c.balance), "coverage": c.coverage})


@coupons_app.command("list")
def coupons_list(tenant: TenantOpt = None) -> None:
    _setup()
    from kaisen.billing.models import Coupon
    from kaisen.core.errors import DomainError

    try:
        tenants = _tenants(tenant)
    except DomainError as exc:
        _fail(exc)
    _out([{"tenant": c.tenant.public_id, "code": c.code, "coverage": c.coverage, "amount": str(c.amount),
           "balance": str(c.balance), "purchased_on": c.purchased_on, "expires_on": c.expires_on,
           "used_by": [f"{u.invoice.month:%Y-%m}:{u.amount}" for u in c.uses.select_related("invoice")]}
          for c in Coupon.objects.filter(tenant__in=tenants).select_related("tenant").order_by("tenant", "id")])


@discounts_app.command("add")
def discounts_add(tenant: Annotated[str, typer.Option("--tenant", help="Operator ID.")],
                  msisdn: Annotated[str, typer.Option(help="The line's number.")],
                  term: Annotated[int, typer.Option(help="Committed months (a term the plan offers).")],
                  first: Annotated[str, typer.Option("--from", help="First month, YYYY-MM.")]) -> None:
    """Commit a Japan-plan line to a term: its base fee is the discounted one for those months."""
    _setup()
    from kaisen.billing.services import long_term_discount_add, parse_month
    from kaisen.core.errors import DomainError

    try:
        d = long_term_discount_add(tenant=_tenants(tenant)[0], msisdn=msisdn, term_months=term,
                                   first_month=parse_month(first), actor="kaisen billing discounts add")
    except DomainError as exc:
        _fail(exc)
    _out({"msisdn": msisdn, "from": f"{d.starts_on:%Y-%m}", "to": f"{d.ends_on:%Y-%m}",
          "monthly_fee": d.rate.monthly_fee})


@discounts_app.command("list")
def discounts_list(tenant: TenantOpt = None) -> None:
    _setup()
    from kaisen.billing.models import LongTermDiscount
    from kaisen.core.errors import DomainError

    try:
        tenants = _tenants(tenant)
    except DomainError as exc:
        _fail(exc)
    _out([{"tenant": d.tenant.public_id, "msisdn": d.line.msisdn, "plan": d.rate.plan.code,
           "term_months": d.rate.term_months, "monthly_fee": d.rate.monthly_fee,
           "from": f"{d.starts_on:%Y-%m}", "to": f"{d.ends_on:%Y-%m}"}
          for d in LongTermDiscount.objects.filter(tenant__in=tenants).select_related("tenant", "line", "rate__plan")])


tariffs_app = typer.Typer(help="The tariff catalogue and its versions; a price change is a new version valid "
                                "from a date (issue 10 §2).")
billing_ops_app.add_typer(tariffs_app, name="tariffs")


@tariffs_app.callback(invoke_without_command=True)
def tariffs_catalogue(ctx: typer.Context) -> None:
    """Without a subcommand: the prices in force today (call rates, fees, plan fees, long-term rates)."""
    if ctx.invoked_subcommand is not None:
        return
    _setup()
    from kaisen.billing.models import PlanTariff
    from kaisen.billing.versions import in_force, tariff_versions
    from kaisen.core import clock
    from kaisen.lines.models import Plan

    today = clock.today_jst()
    current = [r for r in tariff_versions() if r["status"] == "in force"]

    def plan_row(p: Any) -> dict[str, Any]:
        pt = in_force(PlanTariff, today, plan=p)
        return {"code": p.code, "coverage": p.coverage,
                "monthly_fee_jpy": pt.jpy_monthly_fee if pt is not None and pt.jpy_monthly_fee is not None
                else p.monthly_fee,
                "usd_monthly_fee": str(pt.usd_monthly_fee) if pt is not None and pt.usd_monthly_fee is not None
                else None,
                "flat_rate_calling": bool(pt is not None and pt.includes_flat_rate_calling)}

    _out({
        "plans": [plan_row(p) for p in Plan.objects.order_by("coverage", "code")],
        "calls": [r for r in current if r["kind"] == "call-rate"],
        "fees": [r for r in current if r["kind"] == "fee"],
        "long_term": [r for r in current if r["kind"] == "long-term"],
        "plan_tariffs": PlanTariff.objects.count(),
    })


@tariffs_app.command("list")
def tariffs_versions(kind: Annotated[str | None, typer.Option(
                         help="call-rate | fee | plan-fee | long-term; default: all.")] = None,
                     current: Annotated[bool, typer.Option(
                         "--current", help="Leave out superseded versions.")] = False) -> None:
    """Every version: valid_from, status (in force / scheduled / superseded) and frozen (used by a closed month)."""
    _setup()
    from kaisen.billing.versions import KINDS, tariff_versions
    from kaisen.core.errors import DomainError, ErrorCode

    if kind is not None and kind not in KINDS:
        _fail(DomainError(ErrorCode.VALIDATION_ERROR, f"--kind: one of {', '.join(KINDS)}"))
    _out(tariff_versions(kind=kind, include_superseded=not current))


@tariffs_app.command("set")
def tariffs_set(
    kind: Annotated[str, typer.Argument(help="call-rate | fee | plan-fee | long-term")],
    valid_from: Annotated[str, typer.Option("--from", help="First day of the new price, YYYY-MM-DD (Japan time).")],
    coverage: Annotated[str | None, typer.Option(help="call-rate, fee: japan | global.")] = None,
    call_type: Annotated[str | None, typer.Option(help="call-rate: the call type, e.g. domestic.")] = None,
    code: Annotated[str | None, typer.Option(help="fee: e.g. voicemail, universal_service, data_overage.")] = None,
    plan: Annotated[str | None, typer.Option(help="Plan code (plan-fee, long-term; fee: a plan's override).")] = None,
    term: Annotated[int | None, typer.Option(help="long-term: committed months.")] = None,
    rate: Annotated[str | None, typer.Option(help="call-rate: rate per unit.")] = None,
    unit_seconds: Annotated[int | None, typer.Option(help="call-rate: unit in seconds (0: per count).")] = None,
    label: Annotated[str | None, typer.Option(help="call-rate: printed label.")] = None,
    amount: Annotated[str | None, typer.Option(help="fee: amount.")] = None,
    unit_mb: Annotated[int | None, typer.Option(help="fee data_overage: unit in MB.")] = None,
    jpy: Annotated[int | None, typer.Option(help="plan-fee: monthly fee in yen (Japan plans).")] = None,
    usd: Annotated[str | None, typer.Option(help="plan-fee: monthly fee in US dollars (Global plans).")] = None,
    flat_rate: Annotated[bool | None, typer.Option(
        "--flat-rate/--no-flat-rate", help="plan-fee: includes flat-rate calling.")] = None,
    monthly_fee: Annotated[int | None, typer.Option(help="long-term: discounted monthly fee (yen).")] = None,
) -> None:
    """A price change: a new version valid from --from (refused in or before a closed month). Fields not given
    keep the values of the version in force on that day."""
    _setup()
    from kaisen.billing.versions import tariff_new_version, version_row
    from kaisen.core.errors import DomainError, ErrorCode
    from kaisen.lines.models import Plan

    try:
        day = _date(valid_from)
        if day is None:
            raise DomainError(ErrorCode.INVALID_DATE, "--from: YYYY-MM-DD", field="valid_from")
        plan_obj = None
        if plan:
            plan_obj = Plan.objects.filter(code=plan).first()
            if plan_obj is None:
                raise DomainError(ErrorCode.NOT_FOUND, f"No plan {plan}.", field="plan")
        key: dict[str, Any] = {"coverage": coverage, "call_type": call_type, "code": code, "plan": plan_obj,
                               "term_months": term}
        key = {k: v for k, v in key.items() if v is not None or k == "plan"}
        given = {"rate": rate, "unit_seconds": unit_seconds, "label": label, "amount": amount, "unit_mb": unit_mb,
                 "jpy_monthly_fee": jpy, "usd_monthly_fee": usd, "includes_flat_rate_calling": flat_rate,
                 "monthly_fee": monthly_fee}
        obj = tariff_new_version(kind=kind, key=key, valid_from=day,
                                 values={k: v for k, v in given.items() if v is not None},
                                 actor="kaisen billing tariffs set")
    except DomainError as exc:
        _fail(exc)
    _out(version_row(obj))
