"""Combined billing: several accounts' bills on one invoice with a per-account breakdown (S-BILL-5; seed 001
§3.4.3 ①, §3.4.4), on SQLite and PostgreSQL: the operator's rules, the close, the tenants' pages, API, CLI
and PDF, and what each tenant may (not) see of the other."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation
from typer.testing import CliRunner

from kaisen.account.selectors import deletion_blockers_of
from kaisen.accounts.services import user_create
from kaisen.audit.models import AuditEvent
from kaisen.billing import combined
from kaisen.billing.close import close_all, close_month
from kaisen.billing.combined import combined_add, combined_end, shares
from kaisen.billing.models import CombinedBilling, FeeRate, Invoice, InvoiceStatus
from kaisen.billing.services import coupon_add
from kaisen.cli import app
from kaisen.core.clock import JST
from kaisen.core.errors import DomainError, ErrorCode
from tests.billing import kit
from tests.conftest import TenantWorld, make_world

pytestmark = pytest.mark.django_db
MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)
IN_MARCH = dt.date(2026, 3, 10)
AFTER = dt.date(2026, 4, 20)  # after March's issue date (6 April 2026)


@pytest.fixture(autouse=True)
def _round_numbers() -> Iterator[None]:
    FeeRate.objects.filter(code="universal_service").delete()
    with translation.override("en"):  # the messages are asserted in English
        yield


def _pair(fee_payer: int = 105, fee_member: int = 105) -> tuple:  # type: ignore[type-arg]
    payer, member = kit.tenant(), kit.tenant()
    kit.line(payer, kit.plan("CB-P", fee=fee_payer))
    kit.line(member, kit.plan("CB-M", fee=fee_member))
    return payer, member


def _combine(payer, member, first: dt.date = MARCH, today: dt.date = IN_MARCH) -> CombinedBilling:  # type: ignore[no-untyped-def]
    return combined_add(payer=payer, member=member, coverage="japan", first_month=first, actor="test", today=today)


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return str(exc.value.code)


# --- the operator's rules ------------------------------------------------------------------------------

def test_add_records_the_arrangement_and_audits_both_accounts() -> None:
    payer, member = _pair()
    row = _combine(payer, member)
    assert (row.payer, row.member, row.first_month, row.last_month) == (payer, member, MARCH, None)
    for tenant in (payer, member):
        assert AuditEvent.objects.filter(tenant=tenant, action="billing.combined.add").count() == 1
    assert combined.arrangement_for_member(member=member, coverage="japan", month=dt.date(2026, 9, 30)) == row
    assert combined.arrangement_for_member(member=payer, coverage="japan", month=MARCH) is None
    assert [a.member for a in combined.members_of(payer=payer, coverage="japan", month=APRIL)] == [member]


def test_bad_requests_are_refused_with_their_reason() -> None:
    payer, member = _pair()
    closed = kit.tenant(is_active=False)
    global_payer = kit.tenant(coverage_global=True)
    cases = [
        (dict(payer=payer, member=payer), ErrorCode.VALIDATION_ERROR, "itself"),
        (dict(payer=payer, member=member, first_month=dt.date(2026, 2, 1)), ErrorCode.VALIDATION_ERROR, "2026-03"),
        (dict(payer=payer, member=member, first_month=dt.date(2027, 4, 1)), ErrorCode.VALIDATION_ERROR, "12"),
        (dict(payer=payer, member=member, coverage="mars"), ErrorCode.VALIDATION_ERROR, "mars"),
        (dict(payer=global_payer, member=member, coverage="global"), ErrorCode.VALIDATION_ERROR, member.public_id),
        (dict(payer=payer, member=closed), ErrorCode.VALIDATION_ERROR, closed.public_id),
    ]
    for kwargs, code, text in cases:
        args = {"coverage": "japan", "first_month": MARCH, **kwargs}
        with pytest.raises(DomainError) as exc:
            combined_add(actor="test", today=IN_MARCH, **args)  # type: ignore[arg-type]
        assert _code(exc) == code and text in str(exc.value.message), kwargs
    assert not CombinedBilling.objects.exists()


def test_no_chains_and_no_two_arrangements_for_the_same_months_s_bill_5() -> None:
    """One account's invoice is never split (§3.4.4): a member has one payer at a time, a payer is never
    itself a member, a member never pays for others."""
    a, b = _pair()
    c, d = kit.tenant(), kit.tenant()
    _combine(a, b)
    for payer, member, why in [(c, b, "already billed"), (c, a, "pays for other"), (b, d, "itself billed")]:
        with pytest.raises(DomainError) as exc:
            _combine(payer, member)
        assert _code(exc) == ErrorCode.COMBINED_BILLING_CONFLICT and why in str(exc.value.message), why
    assert CombinedBilling.objects.count() == 1
    _combine(a, c)  # a payer may pay for several accounts
    assert CombinedBilling.objects.filter(payer=a).count() == 2


def test_end_then_combine_again_from_a_later_month() -> None:
    a, b = _pair()
    c = kit.tenant()
    row = _combine(a, b)
    with pytest.raises(DomainError) as exc:
        combined_end(arrangement_id=row.pk, last_month=dt.date(2026, 1, 1), actor="test", today=IN_MARCH)
    assert _code(exc) == ErrorCode.VALIDATION_ERROR and "2026-02" in str(exc.value.message)
    ended = combined_end(arrangement_id=row.pk, last_month=APRIL, actor="test", today=IN_MARCH)
    assert ended.last_month == APRIL and ended.ended_by == "test"
    with pytest.raises(DomainError) as exc:
        combined_end(arrangement_id=row.pk, last_month=MAY, actor="test", today=IN_MARCH)
    assert _code(exc) == ErrorCode.COMBINED_BILLING_CONFLICT
    with pytest.raises(DomainError) as exc:
        combined_end(arrangement_id=row.pk + 999, last_month=MAY, actor="test", today=IN_MARCH)
    assert _code(exc) == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as exc:  # still combined into a until April
        _combine(c, b, first=APRIL)
    assert _code(exc) == ErrorCode.COMBINED_BILLING_CONFLICT
    _combine(c, b, first=MAY)
    assert combined.arrangement_for_member(member=b, coverage="japan", month=APRIL).payer == a  # type: ignore[union-attr]
    assert combined.arrangement_for_member(member=b, coverage="japan", month=MAY).payer == c  # type: ignore[union-attr]


# --- the close -----------------------------------------------------------------------------------------

def test_combined_invoice_taxes_the_sum_once_per_rate_x_invoice_jp() -> None:
    """¥105 + ¥105 on one invoice: tax ¥21 (two separate invoices would have ¥10 each)."""
    payer, member = _pair(105, 105)
    _combine(payer, member)
    inv = close_month(tenant=payer, coverage="japan", month=MARCH, today=AFTER)
    mem = Invoice.objects.get(tenant=member, month=MARCH)
    assert (inv.taxable_total, inv.tax_total, inv.total, inv.total_jpy) == (D(210), D(21), D(231), 231)
    assert inv.status == InvoiceStatus.INVOICED and inv.number == f"KS-{payer.public_id}-J-202603"
    assert mem.status == InvoiceStatus.COMBINED and mem.combined_into == inv
    assert (mem.number, mem.issued_on, mem.due_on) == ("", None, None)
    assert (mem.taxable_total, mem.tax_total, mem.total) == (D(105), D(10), D(115))  # its own share
    assert [(s.operator_id, s.taxable, s.payer) for s in shares(inv)] == [
        (payer.public_id, D(105), True), (member.public_id, D(105), False)]
    assert shares(mem) == []
    # Idempotent, from either side.
    again = close_month(tenant=member, coverage="japan", month=MARCH, today=AFTER)
    assert again.pk == mem.pk and again.closed_at == mem.closed_at
    assert close_month(tenant=payer, coverage="japan", month=MARCH, today=AFTER).total == D(231)


def test_member_closed_first_gives_the_same_invoice() -> None:
    payer, member = _pair(1000, 2000)
    _combine(payer, member)
    mem = close_month(tenant=member, coverage="japan", month=MARCH, today=AFTER)
    assert mem.status == InvoiceStatus.COMBINED and mem.combined_into.tenant == payer  # type: ignore[union-attr]
    close_all(month=MARCH, today=AFTER, tenants=[member, payer])
    inv = Invoice.objects.get(tenant=payer, month=MARCH)
    assert (inv.taxable_total, inv.tax_total, inv.total) == (D(3000), D(300), D(3300))
    assert Invoice.objects.filter(combined_into=inv).get() == mem


def test_each_accounts_coupons_pay_its_own_share_s_bill_3() -> None:
    payer, member = _pair(1000, 1000)
    _combine(payer, member)
    coupon_add(tenant=member, coverage="japan", code="CB-COUPON", amount=500, purchased_on=dt.date(2026, 1, 1))
    inv = close_month(tenant=payer, coverage="japan", month=MARCH, today=AFTER)
    assert (inv.total, inv.coupon_applied) == (D(2200) - D(500), D(500))
    by_account = {s.operator_id: s.coupon for s in shares(inv)}
    assert by_account == {payer.public_id: D(0), member.public_id: D(500)}


def test_months_outside_the_arrangement_are_billed_apart() -> None:
    payer, member = _pair()
    row = _combine(payer, member, first=APRIL)
    combined_end(arrangement_id=row.pk, last_month=APRIL, actor="test", today=IN_MARCH)
    for month, today in ((MARCH, AFTER), (MAY, dt.date(2026, 6, 20))):
        close_all(month=month, today=today, tenants=[payer, member])
        mem = Invoice.objects.get(tenant=member, month=month)
        assert mem.status == InvoiceStatus.INVOICED and mem.combined_into is None and mem.total == D(115)
    close_all(month=APRIL, today=dt.date(2026, 5, 20), tenants=[payer, member])
    assert Invoice.objects.get(tenant=member, month=APRIL).status == InvoiceStatus.COMBINED
    assert Invoice.objects.get(tenant=payer, month=APRIL).total == D(231)


def test_zero_payer_still_bills_its_members_and_zero_everywhere_issues_nothing() -> None:
    payer, member = kit.tenant(), kit.tenant()
    kit.line(member, kit.plan("CB-Z", fee=500))
    _combine(payer, member)
    inv = close_month(tenant=payer, coverage="japan", month=MARCH, today=AFTER)
    assert inv.status == InvoiceStatus.INVOICED and inv.total == D(550)
    other, quiet = kit.tenant(), kit.tenant()
    _combine(other, quiet)
    assert close_month(tenant=other, coverage="japan", month=MARCH, today=AFTER).status == InvoiceStatus.NO_CHARGE


def test_deletion_waits_for_the_arrangement_and_the_payers_payment_s_acc_5() -> None:
    payer, member = _pair()
    row = _combine(payer, member, first=MARCH, today=IN_MARCH)
    with time_machine.travel(dt.datetime(2026, 4, 20, 10, tzinfo=JST)):
        assert deletion_blockers_of(member).combined_billing == [row]
        assert deletion_blockers_of(payer).combined_billing == [row]
        inv = close_month(tenant=payer, coverage="japan", month=MARCH)
        combined_end(arrangement_id=row.pk, last_month=MARCH, actor="test")
        member_blockers = deletion_blockers_of(member)
        assert member_blockers.combined_billing == []
        assert [i.status for i in member_blockers.unsettled_invoices] == [InvoiceStatus.COMBINED]
        Invoice.objects.filter(pk=inv.pk).update(status=InvoiceStatus.PAID)
        assert [i.month for i in deletion_blockers_of(member).unsettled_invoices
                if i.status == InvoiceStatus.COMBINED] == []


# --- what the tenants see: API, pages, PDF, CLI ----------------------------------------------------------

@pytest.fixture
def trio() -> Iterator[tuple[TenantWorld, TenantWorld, TenantWorld, Invoice, Invoice]]:
    """Payer and member combined for March 2026 (closed, issued), and a third tenant; the clock on 20 April."""
    with time_machine.travel(dt.datetime(2026, 4, 20, 10, tzinfo=JST), tick=True):
        payer, member, third = make_world(2), make_world(1), make_world(1)
        for w in (payer, member, third):
            for ln in w.lines:
                kit.call(ln, start=kit.at(2026, 3, 9), seconds=120)
        _combine(payer.tenant, member.tenant)
        inv = close_month(tenant=payer.tenant, coverage="japan", month=MARCH)
        close_month(tenant=third.tenant, coverage="japan", month=MARCH)
        mem = Invoice.objects.get(tenant=member.tenant, month=MARCH)
        yield payer, member, third, inv, mem


def test_api_payer_sees_the_breakdown_member_sees_where_it_is_billed(trio) -> None:  # type: ignore[no-untyped-def]
    payer, member, third, inv, mem = trio
    body = payer.api().get(f"/api/v1/bills/{inv.pk}").json()
    assert [a["operator_id"] for a in body["accounts"]] == [payer.tenant.public_id, member.tenant.public_id]
    assert D(body["taxable_total"]) == sum((D(a["taxable"]) for a in body["accounts"]), D(0))
    assert D(body["total"]) == inv.total and body["combined_into"] is None and body["pdf_available"] is True
    # The cost types are those of every account: they add up to the combined totals.
    assert sum((D(c["amount"]) for c in body["cost_types"]), D(0)) == D(body["taxable_total"]) + D(body["exempt_total"])
    listed = {b["id"]: b for b in member.api().get("/api/v1/bills", {"months": 2}).json()}
    own = listed[mem.pk]
    assert own["status"] == "combined" and own["pdf_available"] is False
    into = own["combined_into"]
    assert into.pop("status_label")
    assert into == {"operator_id": payer.tenant.public_id, "company_name": payer.tenant.legal_name,
                    "invoice_number": inv.number, "status": "invoiced"}
    assert D(own["total"]) == mem.total != inv.total
    r = member.api().get(f"/api/v1/bills/{mem.pk}/pdf")
    assert r.status_code == 409 and r.json()["code"] == "INVOICE_NOT_ISSUED"
    assert payer.tenant.public_id in r.json()["message"]
    roles = [[c["role"] for c in w.api().get("/api/v1/billing/combined").json()] for w in (payer, member, third)]
    assert roles == [["payer"], ["member"], []]


def test_tenants_never_reach_each_others_bills_or_numbers(trio) -> None:  # type: ignore[no-untyped-def]
    payer, member, third, inv, mem = trio
    for world, invoice in ((member, inv), (payer, mem), (third, inv), (third, mem)):
        api = world.api()
        for path in ("", "/items", "/numbers", "/pdf"):
            assert api.get(f"/api/v1/bills/{invoice.pk}{path}").status_code == 404, (world.tenant, path)
    numbers = {n["msisdn"] for n in payer.api().get(f"/api/v1/bills/{inv.pk}/numbers").json()["items"]}
    assert numbers == {ln.msisdn for ln in payer.lines}
    items = {i["msisdn"] for i in payer.api().get(f"/api/v1/bills/{inv.pk}/items").json()["items"]} - {""}
    assert items <= {ln.msisdn for ln in payer.lines}
    # The member sees no amount of the payer's.
    listed = json.dumps(member.api().get("/api/v1/bills", {"months": 2}).json())
    assert str(inv.total) not in listed and str(inv.tax_total) not in listed


def test_pages_show_the_arrangement_the_shares_and_the_combined_status(trio) -> None:  # type: ignore[no-untyped-def]
    payer, member, third, inv, mem = trio
    def client(w: TenantWorld) -> Client:
        c = Client()
        c.force_login(w.user)
        return c

    as_payer, as_member, as_third = client(payer), client(member), client(third)
    page = as_payer.get(reverse("billing:charges")).content.decode()
    assert 'data-testid="combined-billing"' in page and member.tenant.public_id in page
    detail = as_payer.get(reverse("billing:bill_detail", args=[inv.pk])).content.decode()
    assert 'data-testid="account-shares"' in detail and member.tenant.legal_name in detail
    mine = as_member.get(reverse("billing:bill_detail", args=[mem.pk])).content.decode()
    assert 'data-testid="combined-into"' in mine and inv.number in mine and 'data-testid="pdf-download"' not in mine
    assert as_member.get(reverse("billing:bill_detail", args=[inv.pk])).status_code == 404
    assert as_member.get(reverse("billing:bill_pdf", args=[inv.pk])).status_code == 404
    assert as_third.get(reverse("billing:bill_detail", args=[mem.pk])).status_code == 404
    other = as_third.get(reverse("billing:charges")).content.decode()
    assert 'data-testid="combined-billing"' not in other and payer.tenant.public_id not in other


def test_combined_pdf_lists_every_account(trio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kaisen.billing.pdf import invoice_pdf
    from tests.charges.test_invoice_pdf import pdf_text

    payer, member, _third, inv, _mem = trio
    text = pdf_text(invoice_pdf(invoice=inv), tmp_path)
    assert "アカウント別内訳" in text and "（請求先）" in text
    assert payer.tenant.public_id in text and member.tenant.public_id in text
    assert f"¥{int(inv.total):,}" in text


def test_operator_cli_add_list_end() -> None:
    payer, member = _pair()
    runner = CliRunner()
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, tzinfo=JST)):
        res = runner.invoke(app, ["admin", "billing", "combined", "add", "--payer", payer.public_id, "--member",
                                  member.public_id], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        row = json.loads(res.stdout)
        assert (row["payer"], row["member"], row["first_month"], row["last_month"]) == (
            payer.public_id, member.public_id, "2026-03", None)
        res = runner.invoke(app, ["admin", "billing", "combined", "add", "--payer", member.public_id, "--member",
                                  payer.public_id], catch_exceptions=False)
        assert res.exit_code == 1 and "COMBINED_BILLING_CONFLICT" in res.stderr
        res = runner.invoke(app, ["admin", "billing", "combined", "end", str(row["id"]), "--last-month", "2026-04"],
                            catch_exceptions=False)
        assert res.exit_code == 0 and json.loads(res.stdout)["last_month"] == "2026-04"
        res = runner.invoke(app, ["admin", "billing", "combined", "list", "--tenant", member.public_id],
                            catch_exceptions=False)
        assert [r["id"] for r in json.loads(res.stdout)] == [row["id"]]


def test_back_office_form_applies_the_rules() -> None:
    payer, member = _pair()
    staff = user_create(tenant=None, username="cb_staff_1", password="Staff-password-2026", is_staff=True,
                        is_superuser=True)
    client = Client()
    client.force_login(staff)
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, tzinfo=JST), tick=True):
        url = "/admin/billing/combinedbilling/add/"
        assert client.get(url).status_code == 200
        bad = client.post(url, {"payer": payer.pk, "member": payer.pk, "coverage": "japan", "first_month": "2026-03"})
        assert bad.status_code == 200 and "同じアカウント同士は統合できません" in bad.content.decode()
        past = client.post(url, {"payer": payer.pk, "member": member.pk, "coverage": "japan",
                                 "first_month": "2026-01"})
        assert past.status_code == 200 and not CombinedBilling.objects.exists()
        ok = client.post(url, {"payer": payer.pk, "member": member.pk, "coverage": "japan", "first_month": "2026-04"})
        assert ok.status_code == 302
        row = CombinedBilling.objects.get()
        assert (row.first_month, row.created_by) == (APRIL, "cb_staff_1")
        assert AuditEvent.objects.filter(action="billing.combined.add").count() == 2
        client.post("/admin/billing/combinedbilling/", {"action": "end_with_current_month",
                                                         "_selected_action": [row.pk]})
        row.refresh_from_db()
        assert row.last_month == MARCH
