"""``kaisen payments``: payment methods, payments and billing contacts (issue 4 §5; S-PAY-1..3).

Client commands (``method``, ``set-card``, ``retry``, ``list``, ``contacts``) call a running portal's API
with the token of ``kaisen login`` and print JSON; Django is not loaded. Operator commands (``kaisen admin
payments charge-due``, ``record-receipt``, ``applications``, ``approve``, ``reject``, ``bank-debit-complete``)
run server side against this environment's database (DATABASE_URL / KAISEN_DATA_DIR).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api, django_setup, emit, print_json

payments_app = typer.Typer(help="Payment methods, payments and billing contacts (calls the API).",
                           no_args_is_help=True)
payments_admin_app = typer.Typer(help="Operator: card charges, received payments, invoice-payment applications, "
                                      "bank direct debit (server side).", no_args_is_help=True)

CoverageArg = Annotated[str, typer.Argument(help="Coverage: japan or global.")]


# --- client commands (call the API) ---------------------------------------------------------------------

@payments_app.command("method")
def method(
    coverage: CoverageArg = "japan",
    set_method: Annotated[str | None, typer.Option("--set", help="card, invoice, bank_debit or konbini.")] = None,
    delivery: Annotated[str | None, typer.Option(help="Invoice delivery: email or post (¥200 per mailing).")] = None,
    url: UrlOpt = None,
) -> None:
    """Show (or, with --set / --delivery, change) the payment method of a coverage."""
    if set_method is None and delivery is None:
        print_json(api("GET", f"/payments/methods/{coverage}", url=url))
        return
    body: dict[str, Any] = {"method": set_method, "delivery": delivery}
    print_json(api("PUT", f"/payments/methods/{coverage}", url=url, body=body))


@payments_app.command("set-card")
def set_card(
    coverage: CoverageArg = "japan",
    exp: Annotated[str, typer.Option(help="Expiry as MM/YYYY.")] = "",
    holder: Annotated[str, typer.Option(help="Name on the card.")] = "",
    url: UrlOpt = None,
) -> None:
    """Register or replace the credit card of a coverage. The number and the security code are prompted
    (hidden, never on the command line); the provider tokenises the card."""
    number = typer.prompt("Card number", hide_input=True, err=True)
    cvc = typer.prompt("Security code", hide_input=True, err=True)
    if not exp:
        exp = typer.prompt("Expiry (MM/YYYY)", err=True)
    try:
        month_s, year_s = exp.split("/")
        month, year = int(month_s), int(year_s)
    except ValueError:
        typer.echo("Expiry must be MM/YYYY.", err=True)
        raise typer.Exit(2) from None
    body = {"card": {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc, "holder": holder}}
    print_json(api("PUT", f"/payments/methods/{coverage}", url=url, body=body))


@payments_app.command("list")
def list_payments(
    coverage: Annotated[str | None, typer.Option(help="Only this coverage.")] = None,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """Issued invoices with their payment status and every payment attempt."""
    emit(api("GET", "/payments", url=url, params={"coverage": coverage} if coverage else None))


@payments_app.command("retry")
def retry(invoice_id: Annotated[int, typer.Argument(help="The invoice's ID (see `kaisen payments list`).")],
          url: UrlOpt = None) -> None:
    """Retry the card payment of an invoice in payment error (after updating the card). A paid invoice is
    never charged again."""
    print_json(api("POST", f"/payments/invoices/{invoice_id}/retry", url=url))


@payments_app.command("contacts")
def contacts(
    add: Annotated[list[str] | None, typer.Option("--add", help="Add a billing email address (at most 5).")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Remove a billing email address.")] = None,
    recovery: Annotated[str | None, typer.Option(help="Set the recovery address (\"\" removes it).")] = None,
    url: UrlOpt = None,
) -> None:
    """Show or change the primary, recovery and billing email addresses."""
    current = api("GET", "/billing-contacts", url=url)
    if not add and not remove and recovery is None:
        print_json(current)
        return
    emails = [e for e in current["billing_emails"] if e.lower() not in {r.lower() for r in (remove or [])}]
    emails += [e for e in (add or []) if e.lower() not in {x.lower() for x in emails}]
    body: dict[str, Any] = {}
    if add or remove:
        body["billing_emails"] = emails
    if recovery is not None:
        body["recovery_email"] = recovery
    print_json(api("PUT", "/billing-contacts", url=url, body=body))


# --- operator commands (server side) --------------------------------------------------------------------

def _fail(exc: Any) -> None:
    typer.echo(f"{exc.code}: {exc.message}", err=True)
    raise typer.Exit(1)


@payments_admin_app.command("charge-due")
def charge_due(
    date: Annotated[str | None, typer.Option(help="Business date (YYYY-MM-DD, JST); default today.")] = None,
) -> None:
    """Operator: charge every issued card invoice not charged yet (also run hourly by the scheduler)."""
    django_setup()
    from kaisen.payments.services import charge_due as run

    print_json(run(today=dt.date.fromisoformat(date) if date else None))


@payments_admin_app.command("record-receipt")
def record_receipt(
    invoice: Annotated[str, typer.Argument(help="Invoice number (or ID).")],
    note: Annotated[str, typer.Option(help="Remark kept in the payment and the audit log.")] = "",
) -> None:
    """Operator: an invoice paid by invoice, bank debit or convenience-store slip was received: mark it paid."""
    django_setup()
    from django.db.models import Q

    from kaisen.billing.models import Invoice
    from kaisen.core.errors import DomainError
    from kaisen.payments.services import receipt_record

    match = Q(number=invoice) | (Q(pk=int(invoice)) if invoice.isdigit() else Q())
    found = Invoice.objects.filter(match).first()
    if found is None:
        typer.echo(f"No invoice {invoice}.", err=True)
        raise typer.Exit(1)
    try:
        payment = receipt_record(staff=None, invoice_id=found.pk, note=note or "CLI")
    except DomainError as exc:
        _fail(exc)
        return
    print_json({"invoice": found.number or found.pk, "status": "paid", "payment_id": payment.pk,
                 "amount": payment.amount, "currency": payment.currency})


@payments_admin_app.command("applications")
def applications(
    status: Annotated[str, typer.Option(help="pending, approved, rejected or all.")] = "pending",
    fmt: FormatOpt = None,
) -> None:
    """Operator: applications for invoice payment."""
    django_setup()
    from kaisen.payments.models import InvoiceApplication

    qs = InvoiceApplication.objects.select_related("tenant").order_by("created_at")
    if status != "all":
        qs = qs.filter(status=status)
    emit([{"application_id": a.pk, "operator_id": a.tenant.public_id, "coverage": a.coverage,
           "company_name": a.company_name, "email": a.email, "postal_code": a.postal_code,
           "address": f"{a.prefecture}{a.address}", "delivery": a.delivery, "status": a.status,
           "created_at": a.created_at} for a in qs])


def _decide(application_id: int, approve: bool, reason: str) -> None:
    django_setup()
    from kaisen.core.errors import DomainError
    from kaisen.payments.services import invoice_application_decide

    try:
        app = invoice_application_decide(staff=None, application_id=application_id, approve=approve, reason=reason)
    except DomainError as exc:
        _fail(exc)
        return
    print_json({"application_id": app.pk, "status": app.status})


@payments_admin_app.command("approve")
def approve(application_id: Annotated[int, typer.Argument()],
            reason: Annotated[str, typer.Option()] = "") -> None:
    """Operator: approve an application (credit check passed): the coverage switches to invoice payment."""
    _decide(application_id, True, reason)


@payments_admin_app.command("reject")
def reject(application_id: Annotated[int, typer.Argument()],
           reason: Annotated[str, typer.Option(help="Told to the tenant in the mail.")] = "") -> None:
    """Operator: reject an application (credit check failed)."""
    _decide(application_id, False, reason)


@payments_admin_app.command("bank-debit-complete")
def bank_debit_complete(
    operator_id: Annotated[str, typer.Argument(help="The tenant's operator ID (OP + 10 digits).")],
    coverage: CoverageArg = "japan",
    effective: Annotated[str | None, typer.Option(help="Effective date (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Operator: the collection agency confirmed the bank direct debit; it applies from --effective."""
    django_setup()
    from kaisen.core.errors import DomainError
    from kaisen.payments.models import PaymentSetting
    from kaisen.payments.services import bank_debit_complete as complete

    setting = PaymentSetting.objects.filter(tenant__public_id=operator_id, coverage=coverage).first()
    if setting is None:
        typer.echo(f"No payment setting for {operator_id} / {coverage}.", err=True)
        raise typer.Exit(1)
    try:
        done = complete(staff=None, setting_id=setting.pk,
                        effective_on=dt.date.fromisoformat(effective) if effective else None)
    except DomainError as exc:
        _fail(exc)
        return
    print_json({"operator_id": operator_id, "coverage": coverage, "method": done.method,
                 "effective_on": done.bank_debit_effective_on})
