"""``kaisen bills``: a tenant's bills through the API (issue 4 §8; K-4, S-BILL-2, X-INVOICE-JP). Client commands
like ``kaisen lines`` (see ``kaisen.core.cli``); Django is not loaded for them.

``kaisen admin billing``: the operator's rating and monthly close (issue 4 §2-§3). Server side, like ``kaisen
demo``: Django runs in this process against ``DATABASE_URL`` / ``KAISEN_DATA_DIR``. Every command prints
JSON; a refusal prints ``CODE: message`` on stderr and exits 1.

    kaisen admin billing rate --month 2026-10 [--tenant OP…] [--coverage japan] [--rerate]
    kaisen admin billing close --month 2026-10 [--tenant OP…] [--coverage global] [--today 2026-11-05]
    kaisen admin billing issue-due
    kaisen admin billing tts-rate set 2026-10 149.52 | tts-rate list
    kaisen admin billing coupons add --tenant OP… --amount 50000 --code C-1 [--coverage] [--purchased-on] [--expires-on]
    kaisen admin billing coupons list [--tenant OP…]
    kaisen admin billing discounts add --tenant OP… --msisdn 090… --term 24 --from 2026-01 | discounts list
    kaisen admin billing combined add --payer OP… --member OP… [--coverage japan] [--from 2026-12]
    kaisen admin billing combined end ID [--last-month 2027-03] | combined list [--tenant OP…]
    kaisen admin billing tariffs [list [--kind call-rate] [--current]]
    kaisen admin billing tariffs set call-rate --coverage japan --call-type domestic --rate 22 --from 2027-01-01

The customer-facing ``kaisen bills`` (invoices, PDF) calls the REST API instead.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from kaisen.core.cli import (
    FormatOpt,
    UrlOpt,
    api,
    api_stream,
    django_setup,
    emit,
    print_json,
    print_numbered_pages,
    print_pages,
)

bills_app = typer.Typer(help="Your bills: months and status, detail, per-number charges, call details, invoice "
                             "PDF (calls the API; log in first with `kaisen login`).", no_args_is_help=True)
billing_ops_app = typer.Typer(help="Operator: rating, monthly close, TTS rates, coupons, long-term discounts "
                                   "(server side).", no_args_is_help=True)
tts_app = typer.Typer(help="Monthly average TTS rates (JPY per USD) for Global invoices.",
                      no_args_is_help=True)
coupons_app = typer.Typer(help="Prepaid coupons.", no_args_is_help=True)
discounts_app = typer.Typer(help="Long-term discounts of Japan plans.", no_args_is_help=True)
billing_ops_app.add_typer(tts_app, name="tts-rate")
billing_ops_app.add_typer(coupons_app, name="coupons")
combined_app = typer.Typer(help="Combined billing: several accounts' bills on one invoice.",
                           no_args_is_help=True)
billing_ops_app.add_typer(discounts_app, name="discounts")
billing_ops_app.add_typer(combined_app, name="combined")

MonthOpt = Annotated[str, typer.Option("--month", help="Month of use, YYYY-MM.")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Operator ID (OP + 10 digits); default: every tenant.")]
CoverageOpt = Annotated[str | None, typer.Option("--coverage", help="japan | global; default: the tenant's coverages.")]


def _setup() -> None:
    django_setup()


def _out(data: Any) -> None:
    print_json(data)


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
                           actor="kaisen admin billing combined add")
    except DomainError as exc:
        _fail(exc)
    _out(combined_dict(row))


@combined_app.command("end")
def combined_end_command(
    arrangement_id: Annotated[int, typer.Argument(help="The arrangement's id (`kaisen admin billing combined list`).")],
    last_month: Annotated[str | None, typer.Option("--last-month", help="Last combined month, YYYY-MM (default: "
                                                                        "the current month).")] = None,
) -> None:
    """End combined billing: the member gets its own invoices again after LAST-MONTH."""
    _setup()
    from kaisen.billing.combined import combined_end
    from kaisen.core.errors import DomainError

    try:
        row = combined_end(arrangement_id=arrangement_id, last_month=_month_or_today(last_month),
                           actor="kaisen admin billing combined end")
    except DomainError as exc:
        _fail(exc)
    _out(combined_dict(row))


@combined_app.command("list")
def combined_list_command(tenant: TenantOpt = None, fmt: FormatOpt = None) -> None:
    """Every arrangement (or one account's), ended ones included."""
    _setup()
    from kaisen.billing.combined import combined_list
    from kaisen.core.errors import DomainError

    try:
        rows = combined_list(tenant=_tenants(tenant)[0] if tenant else None)
    except DomainError as exc:
        _fail(exc)
    emit([combined_dict(r) for r in rows])


@billing_ops_app.command("rate")
def rate_command(month: MonthOpt, tenant: TenantOpt = None, coverage: CoverageOpt = None,
                 rerate: Annotated[bool, typer.Option(help="Re-rate every call of the month once more (a repair: "
                                                          "calls are rated when imported and re-rated when a "
                                                          "tariff or a line changes).")] = False) -> None:
    """Rate a month: the provisional invoice items, from the usage rollups (refused on a closed month)."""
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
    """Close a month. Idempotent: a closed invoice is returned unchanged. Exits 1 if any refused."""
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
                                               actor="kaisen admin billing close")))
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
        rate = tts_rate_set(month=parse_month(month), jpy_per_usd=jpy_per_usd, entered_by="kaisen admin billing")
    except DomainError as exc:
        _fail(exc)
    _out({"month": f"{rate.month:%Y-%m}", "jpy_per_usd": str(rate.jpy_per_usd)})


@tts_app.command("list")
def tts_list(fmt: FormatOpt = None) -> None:
    """Every month's average TTS rate, newest first."""
    _setup()
    from kaisen.billing.models import TtsRate

    emit([{"month": f"{r.month:%Y-%m}", "jpy_per_usd": str(r.jpy_per_usd), "entered_by": r.entered_by}
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
                       actor="kaisen admin billing coupons add")
    except DomainError as exc:
        _fail(exc)
    _out({"code": c.code, "amount": str(c.amount), "balance": str(c.balance), "coverage": c.coverage})


@coupons_app.command("list")
def coupons_list(tenant: TenantOpt = None, fmt: FormatOpt = None) -> None:
    """Prepaid coupons (of every account, or one), with their balance and uses."""
    _setup()
    from kaisen.billing.models import Coupon
    from kaisen.core.errors import DomainError

    try:
        tenants = _tenants(tenant)
    except DomainError as exc:
        _fail(exc)
    emit([{"tenant": c.tenant.public_id, "code": c.code, "coverage": c.coverage, "amount": str(c.amount),
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
                                   first_month=parse_month(first), actor="kaisen admin billing discounts add")
    except DomainError as exc:
        _fail(exc)
    _out({"msisdn": msisdn, "from": f"{d.starts_on:%Y-%m}", "to": f"{d.ends_on:%Y-%m}",
          "monthly_fee": d.rate.monthly_fee})


@discounts_app.command("list")
def discounts_list(tenant: TenantOpt = None, fmt: FormatOpt = None) -> None:
    """Long-term discounts (of every account, or one)."""
    _setup()
    from kaisen.billing.models import LongTermDiscount
    from kaisen.core.errors import DomainError

    try:
        tenants = _tenants(tenant)
    except DomainError as exc:
        _fail(exc)
    emit([{"tenant": d.tenant.public_id, "msisdn": d.line.msisdn, "plan": d.rate.plan.code,
           "term_months": d.rate.term_months, "monthly_fee": d.rate.monthly_fee,
           "from": f"{d.starts_on:%Y-%m}", "to": f"{d.ends_on:%Y-%m}"}
          for d in LongTermDiscount.objects.filter(tenant__in=tenants).select_related("tenant", "line", "rate__plan")])


tariffs_app = typer.Typer(help="The tariff catalogue and its versions; a price change is a new version valid "
                                "from a date.")
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


# --- customer commands (call the API) ----------------------------------------------------------------

BillCoverageOpt = Annotated[str, typer.Option(help="japan or global.")]
BillId = Annotated[int, typer.Argument(help="The bill's ID (the `id` of `kaisen bills list`).")]


@bills_app.command("list")
def bills_list(
    months: Annotated[int, typer.Option(min=1, max=84, help="Months back, this one included.")] = 4,
    coverage: Annotated[str, typer.Option(help="Only japan or global.")] = "",
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """Bills of the last months with status and totals, newest first."""
    params: dict[str, Any] = {"months": months}
    if coverage:
        params["coverage"] = coverage
    emit(api("GET", "/bills", url=url, params=params))


@bills_app.command("show")
def bills_show(bill_id: BillId, url: UrlOpt = None) -> None:
    """One bill: totals, tax per rate, items summed by cost type and tax class."""
    print_json(api("GET", f"/bills/{bill_id}", url=url))


@bills_app.command("combined")
def bills_combined(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """Combined billing: the accounts whose bills are on one invoice with this account's."""
    emit(api("GET", "/billing/combined", url=url))


@bills_app.command("current")
def bills_current(coverage: BillCoverageOpt = "japan", url: UrlOpt = None) -> None:
    """This month's provisional charges by category and day by day."""
    print_json(api("GET", "/bills/current", url=url, params={"coverage": coverage}))


@bills_app.command("forecast")
def bills_forecast(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """This month's projected month-end amount per coverage (a projection: monthly fees once, usage at its run
    rate), with the budget if one is set."""
    emit(api("GET", "/charges/forecast", url=url))


@bills_app.command("numbers")
def bills_numbers(
    bill_id: BillId,
    q: Annotated[str, typer.Option(help="Phone number, or its beginning.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=500, help="Numbers per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="`next_cursor` of the previous page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every number.")] = False,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """Call charges by phone number (domestic, international, au, other mobile)."""
    print_pages(f"/bills/{bill_id}/numbers", params={"q": q, "limit": limit}, cursor=cursor, all_pages=all_pages,
                url=url)


@bills_app.command("items")
def bills_items(
    bill_id: BillId,
    msisdn: Annotated[str, typer.Option(help="Only this phone number's items.")] = "",
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every item.")] = False,
    cursor: Annotated[str | None, typer.Option(help="`next_cursor` of the previous page.")] = None,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """The bill's items one by one."""
    print_pages(f"/bills/{bill_id}/items", params={"msisdn": msisdn}, cursor=cursor, all_pages=all_pages, url=url)


@bills_app.command("calls")
def bills_calls(
    bill_id: BillId,
    msisdn: Annotated[str, typer.Argument(help="The phone number.")],
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Calls per page.")] = 10,
    all_pages: Annotated[bool, typer.Option("--all", help="Every page: all the number's calls of the month.")]
    = False,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """One number's call details of the bill's month, 10 per page (with --all, every call)."""
    path = f"/bills/{bill_id}/numbers/{msisdn}/calls"
    if all_pages:
        print_numbered_pages(path, params={}, url=url)
        return
    emit(api("GET", path, url=url, params={"page": page, "limit": limit}))


@bills_app.command("pdf")
def bills_pdf(
    bill_id: BillId,
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the PDF to this file.")],
    url: UrlOpt = None,
) -> None:
    """Download the qualified invoice (適格請求書, PDF) of an issued bill."""
    with api_stream(f"/bills/{bill_id}/pdf", url=url, timeout=120) as resp:
        content = resp.read()
    out.write_bytes(content)
    print_json({"bill_id": bill_id, "file": str(out), "bytes": len(content)})
@tariffs_app.command("list")
def tariffs_versions(kind: Annotated[str | None, typer.Option(
                         help="call-rate | fee | plan-fee | long-term; default: all.")] = None,
                     current: Annotated[bool, typer.Option(
                         "--current", help="Leave out superseded versions.")] = False,
                     fmt: FormatOpt = None) -> None:
    """Every version: valid_from, status (in force / scheduled / superseded) and frozen (used by a closed month)."""
    _setup()
    from kaisen.billing.versions import KINDS, tariff_versions
    from kaisen.core.errors import DomainError, ErrorCode

    if kind is not None and kind not in KINDS:
        _fail(DomainError(ErrorCode.VALIDATION_ERROR, f"--kind: one of {', '.join(KINDS)}"))
    emit(tariff_versions(kind=kind, include_superseded=not current))


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
                                 actor="kaisen admin billing tariffs set")
    except DomainError as exc:
        _fail(exc)
    _out(version_row(obj))
