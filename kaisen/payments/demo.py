"""The demo's payments (issue 4 §5): one tenant pays by card, one by invoice (with a bank-debit switch
pending), one by convenience-store slip; billing and recovery addresses; the past invoices paid, with one
payment error (a card over its limit) waiting for the demo user to update the card and retry.

Runs at the end of ``kaisen.demo.demo_create``, after the billing close (``kaisen.billing.demo``). Every step
goes through the services, so the demo's history (payments, audit entries, the failure mail) is what real
use would leave. The card charges go to the payment-provider SIMULATOR.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from kaisen.accounts.models import User
from kaisen.billing.models import Invoice, InvoiceStatus
from kaisen.payments import services
from kaisen.payments.models import (
    AccountEmails,
    BillingEmail,
    InvoiceApplication,
    Payment,
    PaymentSetting,
    SimulatedCard,
    SimulatedCharge,
)
from kaisen.tenancy.models import Tenant

CARD_OK = {"japan": "4242424242424242", "global": "378282246310005"}
CARD_OVER_LIMIT = "4000000000009995"  # the simulator declines: insufficient funds (limit exceeded)

#: Per demo tenant: the method, and for invoice payment the application's address (checked like any other).
PLAN: dict[str, dict[str, Any]] = {
    "OP0123456789": {"method": "card"},
    "OP2048163264": {"method": "invoice", "bank_debit": True, "delivery": "email",
                     "postal_code": "530-0001", "prefecture": "大阪府", "address": "大阪市北区梅田3-1-1"},
    "OP5120003387": {"method": "konbini", "delivery": "post",
                     "postal_code": "060-0001", "prefecture": "北海道", "address": "札幌市中央区北一条西2-1"},
}


def _root(tenant: Tenant) -> User:
    user = User.objects.filter(tenant=tenant, is_root=True).order_by("pk").first()
    assert user is not None, f"demo tenant {tenant.public_id} has no root user"
    return user


def _card(user: User, coverage: str, number: str) -> None:
    cvc = "1234" if number.startswith("37") else "123"
    services.card_register(user=user, coverage=coverage, number=number, exp_month=12, exp_year=2030, cvc=cvc,
                           holder="DEMO CARD")


def _when_paid(invoice: Invoice, method: str, today: dt.date) -> dt.datetime:
    """A plausible moment for a demo payment (issue 14: not all "today"): a card is charged by the morning run
    on the issue date; a transfer, debit or slip arrives a few days before the due date. Never in the future."""
    from kaisen.core import clock

    if method == "card":
        day, at = invoice.issued_on or today, dt.time(6, 0 + invoice.pk % 50)
    else:
        due = invoice.due_on or today
        day, at = due - dt.timedelta(days=2 + invoice.pk % 5), dt.time(14, invoice.pk % 60)
    moment = dt.datetime.combine(min(day, today), at, tzinfo=clock.JST)
    return min(moment, clock.now())


def _backdate(payment: Payment, invoice: Invoice, method: str, today: dt.date) -> None:
    when = _when_paid(invoice, method, today)
    Payment.objects.filter(pk=payment.pk).update(created_at=when)
    if payment.provider_charge_id:
        SimulatedCharge.objects.filter(charge_id=payment.provider_charge_id).update(created_at=when)


def demo_payments_create(*, tenants: Sequence[Tenant], today: dt.date) -> dict[str, int]:
    """Payment methods for the demo tenants, then their issued invoices collected. With no invoices (the
    billing step not run) only the methods and addresses are set."""
    counts = {"paid": 0, "payment_error": 0, "awaiting": 0}
    for tenant in tenants:
        plan = PLAN.get(tenant.public_id)
        if plan is None:
            continue
        user = _root(tenant)
        domain = (user.email or tenant.contact_email).rsplit("@", 1)[-1]
        services.billing_emails_replace(user=user, emails=[f"keiri@{domain}", f"accounting@{domain}"])
        services.recovery_email_set(user=user, email=f"recovery@{domain}")
        for coverage in tenant.coverages:
            if plan["method"] == "card":
                _card(user, coverage, CARD_OK[coverage])
                continue
            app = services.invoice_apply(
                user=user, coverage=coverage, company_name=tenant.legal_name, department="経理部",
                contact_name=tenant.contact_name or "経理担当", email=f"keiri@{domain}",
                phone=tenant.contact_phone or "03-0000-0000", postal_code=plan["postal_code"],
                prefecture=plan["prefecture"], address=plan["address"], delivery=plan["delivery"])
            services.invoice_application_decide(staff=None, application_id=app.pk, approve=True)
            if plan["method"] == "konbini":
                services.method_set(user=user, coverage=coverage, method="konbini")
            if plan.get("bank_debit"):
                services.method_set(user=user, coverage=coverage, method="bank_debit")  # pending ~2 months
        issued = list(Invoice.objects.filter(tenant=tenant, status=InvoiceStatus.INVOICED).order_by("month", "pk"))
        latest = {inv.coverage: inv for inv in issued}  # the last issued invoice of each coverage
        for invoice in issued:
            if plan["method"] == "card":
                if invoice == latest[invoice.coverage] and invoice.coverage == "japan":
                    # The last Japan invoice is charged on a card over its limit (seed 001 §3.8.1 ①): a payment
                    # error, the failure mail to the billing addresses, and a card the demo user replaces
                    # before pressing "Retry payment".
                    _card(user, "japan", CARD_OVER_LIMIT)
                payment = services.invoice_charge(invoice_id=invoice.pk, trigger="run")
                _backdate(payment, invoice, "card", today)
                counts["paid" if payment.status == "succeeded" else "payment_error"] += 1
            elif invoice == latest[invoice.coverage]:
                counts["awaiting"] += 1  # due at the end of this month: not received yet
            else:
                receipt = services.receipt_record(staff=None, invoice_id=invoice.pk, note="demo: 入金確認")
                _backdate(receipt, invoice, plan["method"], today)
                counts["paid"] += 1
        if plan["method"] == "konbini":
            # Re-rate the open month so its provisional amount carries the ¥200 postal fee from now on.
            from kaisen.billing.rating import rate_month

            for coverage in tenant.coverages:
                rate_month(tenant=tenant, coverage=coverage, month=today.replace(day=1))
    return counts


def demo_payments_delete(*, tenants: Any) -> None:
    """Remove the demo tenants' payment data (demo reset only; before the billing step removes invoices)."""
    cards = list(PaymentSetting.objects.filter(tenant__in=tenants).exclude(card_token="")
                 .values_list("card_token", flat=True))
    keys = [services.idempotency_key_for(inv) for inv in Invoice.objects.filter(tenant__in=tenants)]
    Payment.objects.filter(tenant__in=tenants).delete()
    SimulatedCharge.objects.filter(idempotency_key__in=keys).delete()
    SimulatedCard.objects.filter(token__in=cards).delete()
    PaymentSetting.objects.filter(tenant__in=tenants).delete()
    InvoiceApplication.objects.filter(tenant__in=tenants).delete()
    BillingEmail.objects.filter(tenant__in=tenants).delete()
    AccountEmails.objects.filter(tenant__in=tenants).delete()
