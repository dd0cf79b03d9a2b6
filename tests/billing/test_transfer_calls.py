"""A call belongs to the tenant that held the line when the call started (issue 10 §3-§4; S-ACC-4, K-4, M-DL-3),
on SQLite and PostgreSQL: the usage import and the rematch file it under that tenant (``CallRecord.tenant``, from
the line history, in the statement that stores it), so the call-detail pages, the API, the statements and the
bill of each tenant show only its own calls of a line transferred mid-month."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from decimal import Decimal as D

import pytest
import time_machine

from kaisen.billing.rating import rate_month
from kaisen.lines.history import line_record_change
from kaisen.lines.models import Line, LinePeriodReason
from kaisen.usage.ingest import usage_file_import, usage_rematch
from kaisen.usage.models import CallRecord, UnmatchedCall, UsageRollup
from tests.billing import kit
from tests.conftest import TenantWorld
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
NOV = dt.date(2026, 11, 1)
HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"
BEFORE, AFTER = "0311110000", "0322220000"  # the destinations of the call before and after the transfer
_files = itertools.count(1)


def _import_calls(msisdn: str) -> dict:
    body = HEADER + (f"TR-{msisdn}-1,{msisdn},2026-11-10 10:00:00.0,600,{BEFORE},東京,,0,1,,voice\n"
                     f"TR-{msisdn}-2,{msisdn},2026-11-21 10:00:00.0,300,{AFTER},東京,,0,1,,voice\n")
    return usage_file_import(fileobj=io.BytesIO(body.encode()), name=f"transfer-{next(_files)}.csv").as_dict()


def _transfer(line: Line, to: TenantWorld) -> None:
    """The line moves to ``to`` at 12:00 on Nov 20, as ``tenancy.services.transfer_accept`` records it."""
    line.tenant = to.tenant
    line.save(update_fields=["tenant"])
    line_record_change(line=line, at=kit.at(2026, 11, 20, 12), reason=LinePeriodReason.TRANSFER)


def _bill_calls(world: TenantWorld, line: Line) -> set[str]:
    invoice = rate_month(tenant=world.tenant, coverage="japan", month=NOV).invoice
    response = world.api_now().get(f"/api/v1/bills/{invoice.pk}/numbers/{line.msisdn}/calls")
    if response.status_code == 404:
        return set()
    assert response.status_code == 200, response.content
    return {c["destination_number"] for c in response.json()["items"]}


def _cdr_statement(world: TenantWorld) -> str:
    from kaisen.statements.services import statement_file, statement_request

    user = UserFactory(tenant=world.tenant, is_root=True)
    with time_machine.travel(dt.datetime(2026, 12, 26, 10, tzinfo=kit.JST), tick=False):
        statement = statement_request(tenant=world.tenant, user=user, kind="cdr", month=NOV)
    assert statement.status == "done", statement.error
    return statement_file(statement).read_text(encoding="utf-8")


def _assert_each_tenant_sees_its_own_call(tenant_a: TenantWorld, tenant_b: TenantWorld, line: Line) -> None:
    before = CallRecord.objects.get(destination_number=BEFORE)
    after = CallRecord.objects.get(destination_number=AFTER)
    assert (before.tenant_id, after.tenant_id) == (tenant_a.tenant.pk, tenant_b.tenant.pk)
    with time_machine.travel(dt.datetime(2026, 11, 22, 10, tzinfo=kit.JST), tick=False):
        # The bill's call detail (K-4) of each tenant: only the calls made while it held the line.
        assert _bill_calls(tenant_a, line) == {BEFORE}
        assert _bill_calls(tenant_b, line) == {AFTER}
        # The line's calls (API): the new holder sees only its own; the old one no longer sees the line.
        calls = tenant_b.api_now().get(f"/api/v1/lines/{line.pk}/calls", {"month": "2026-11"}).json()
        assert {c["destination_number"] for c in calls["items"]} == {AFTER}
        assert tenant_a.api_now().get(f"/api/v1/lines/{line.pk}/calls", {"month": "2026-11"}).status_code == 404
        # The bills: each call on its holder's invoice only.
        a = kit.amounts(rate_month(tenant=tenant_a.tenant, coverage="japan", month=NOV).invoice)
        b = kit.amounts(rate_month(tenant=tenant_b.tenant, coverage="japan", month=NOV).invoice)
        assert a[(line.msisdn, "voice_xi")] == before.charge == D(40)
        assert b[(line.msisdn, "voice_xi")] == after.charge == D(20)
        assert set(UsageRollup.objects.filter(line=line).values_list("tenant_id", flat=True)) == {
            tenant_a.tenant.pk, tenant_b.tenant.pk}
    # The call-detail statement (M-DL-3) of each tenant.
    a_cdr, b_cdr = _cdr_statement(tenant_a), _cdr_statement(tenant_b)
    a_rows = list(csv.reader(io.StringIO(a_cdr, newline="")))
    assert any(BEFORE in row for row in a_rows) and AFTER not in a_cdr
    assert AFTER in b_cdr and BEFORE not in b_cdr


def test_calls_imported_after_a_transfer_go_to_the_tenant_holding_the_line_when_they_started(
        tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 22, 10, tzinfo=kit.JST), tick=False):
        line = kit.line(tenant_a.tenant, kit.plan("TR-1"), voice={})
        _transfer(line, tenant_b)
        result = _import_calls(line.msisdn)  # both calls arrive after the transfer
    assert result["rows_loaded"] == 2
    _assert_each_tenant_sees_its_own_call(tenant_a, tenant_b, line)


def test_rematched_calls_follow_the_same_rule(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    msisdn = "09055501234"
    with time_machine.travel(dt.datetime(2026, 11, 22, 10, tzinfo=kit.JST), tick=False):
        assert _import_calls(msisdn)["rows_unmatched"] == 2  # the number is not registered yet
        line = kit.line(tenant_a.tenant, kit.plan("TR-2"), voice={}, msisdn=msisdn)
        _transfer(line, tenant_b)
        usage_rematch()
    assert not UnmatchedCall.objects.exists()
    _assert_each_tenant_sees_its_own_call(tenant_a, tenant_b, line)
