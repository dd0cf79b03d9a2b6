"""S-ACC-4: SIM transfer to another account only while the SIM has never been used, by a single-use token that
only the named receiving account can accept; all SIMs move at once or none does; audited in both tenants."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from kaisen.account import services
from kaisen.account.selectors import lines_transfer_blockers
from kaisen.audit.models import AuditEvent
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import Line, LineStatus
from kaisen.tenancy.models import SimTransfer, TransferStatus
from kaisen.usage.models import DataUsageDaily, UsageFile
from tests.conftest import TenantWorld, make_world
from tests.factories import LineFactory

pytestmark = pytest.mark.django_db


def _ready(world: TenantWorld, n: int = 2) -> list[Line]:
    """Never-used SIMs: not activated, no start date."""
    return LineFactory.create_batch(n, tenant=world.tenant, status=LineStatus.NOT_ACTIVATED, started_on=None)


def _use(line: Line) -> None:
    f = UsageFile.objects.create(kind="data", name="d.csv", sha256=uuid.uuid4().hex)
    DataUsageDaily.objects.create(tenant=line.tenant, line=line, msisdn=line.msisdn or "", day=dt.date(2026, 11, 1),
                                  bytes_used=1024, source_file=f)


def test_transfer_moves_every_sim_and_is_audited_in_both_tenants_s_acc_4(tenant_a: TenantWorld,
                                                                          tenant_b: TenantWorld) -> None:
    lines = _ready(tenant_a)
    new = services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                   lines=[line.iccid for line in lines])
    assert SimTransfer.objects.get(pk=new.transfer.pk).token_hash != new.token  # only a hash is kept
    preview = services.transfer_preview(actor=tenant_b.user, token=new.token.lower().replace("-", " "))
    assert preview.pk == new.transfer.pk
    assert all(Line.objects.get(pk=x.pk).tenant_id == tenant_a.tenant.pk for x in lines)  # preview moves nothing
    services.transfer_accept(actor=tenant_b.user, token=new.token)
    assert {Line.objects.get(pk=x.pk).tenant_id for x in lines} == {tenant_b.tenant.pk}
    assert AuditEvent.objects.filter(tenant=tenant_a.tenant, action="transfer.send", success=True).count() == 1
    assert AuditEvent.objects.filter(tenant=tenant_b.tenant, action="transfer.accept", success=True).count() == 1


def test_a_used_sim_is_refused_s_acc_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    ready = _ready(tenant_a, 1)[0]
    for used in (tenant_a.line,  # active, started
                 LineFactory(tenant=tenant_a.tenant, status=LineStatus.NOT_ACTIVATED, started_on=dt.date(2026, 1, 1))):
        with pytest.raises(DomainError) as exc:
            services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                     lines=[ready.iccid, used.iccid])
        assert exc.value.code == ErrorCode.LINE_NOT_TRANSFERABLE
        assert [r["iccid"] for r in exc.value.details["refused"]] == [used.iccid]
    with_usage = _ready(tenant_a, 1)[0]
    _use(with_usage)
    with pytest.raises(DomainError) as exc:
        services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                 lines=[with_usage.iccid])
    assert exc.value.details["refused"][0]["reasons"] == ["usage"]
    assert not SimTransfer.objects.exists()


def test_a_sim_used_meanwhile_stops_the_whole_batch_s_acc_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    lines = _ready(tenant_a, 3)
    new = services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                   lines=[x.iccid for x in lines])
    _use(lines[1])  # the SIM communicated after the transfer was made
    with pytest.raises(DomainError) as exc:
        services.transfer_accept(actor=tenant_b.user, token=new.token)
    assert exc.value.code == ErrorCode.LINE_NOT_TRANSFERABLE
    assert {Line.objects.get(pk=x.pk).tenant_id for x in lines} == {tenant_a.tenant.pk}  # nothing moved
    assert SimTransfer.objects.get(pk=new.transfer.pk).status == TransferStatus.OPEN
    assert AuditEvent.objects.filter(tenant=tenant_b.tenant, action="transfer.accept", success=False).exists()


def test_a_token_for_another_account_is_refused_s_acc_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    c = make_world(1)
    new = services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                   lines=[_ready(tenant_a, 1)[0].iccid])
    for actor in (c.user, tenant_a.user):  # a third account, and the sender itself
        with pytest.raises(DomainError) as exc:
            services.transfer_accept(actor=actor, token=new.token)
        assert exc.value.code == ErrorCode.TRANSFER_TOKEN_INVALID
    services.transfer_accept(actor=tenant_b.user, token=new.token)  # still valid for its account


def test_an_expired_token_is_refused_s_acc_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    t0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
    with time_machine.travel(t0, tick=False):
        new = services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                       lines=[_ready(tenant_a, 1)[0].iccid])
    with time_machine.travel(t0 + services.TRANSFER_TTL + dt.timedelta(seconds=1), tick=False), \
            pytest.raises(DomainError) as exc:
        services.transfer_accept(actor=tenant_b.user, token=new.token)
    assert exc.value.code == ErrorCode.TRANSFER_TOKEN_INVALID


def test_a_used_or_withdrawn_token_is_refused_s_acc_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    new = services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                   lines=[_ready(tenant_a, 1)[0].iccid])
    services.transfer_accept(actor=tenant_b.user, token=new.token)
    with pytest.raises(DomainError) as exc:
        services.transfer_accept(actor=tenant_b.user, token=new.token)
    assert exc.value.code == ErrorCode.TRANSFER_TOKEN_INVALID
    other = services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                     lines=[_ready(tenant_a, 1)[0].iccid])
    services.transfer_cancel(actor=tenant_a.user, transfer_id=other.transfer.pk)
    with pytest.raises(DomainError):
        services.transfer_accept(actor=tenant_b.user, token=other.token)


def test_a_sim_in_an_open_transfer_cannot_be_offered_twice_s_acc_4(tenant_a: TenantWorld,
                                                                   tenant_b: TenantWorld) -> None:
    line = _ready(tenant_a, 1)[0]
    services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id, lines=[line.iccid])
    with pytest.raises(DomainError) as exc:
        services.transfer_create(actor=tenant_a.user, to_operator_id="OP0000000001", lines=[line.iccid])
    assert exc.value.details["refused"][0]["reasons"] == ["in_transfer"]


def test_only_the_root_user_transfers_and_other_tenants_lines_are_not_found_s_acc_4(
        tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    from tests.factories import UserFactory

    clerk = UserFactory(tenant=tenant_a.tenant, is_root=False)
    line = _ready(tenant_a, 1)[0]
    with pytest.raises(DomainError) as exc:
        services.transfer_create(actor=clerk, to_operator_id=tenant_b.tenant.public_id, lines=[line.iccid])
    assert exc.value.code == ErrorCode.PERMISSION_DENIED
    theirs = _ready(tenant_b, 1)[0]
    with pytest.raises(DomainError) as exc:
        services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id,
                                 lines=[theirs.iccid])
    assert exc.value.code == ErrorCode.NOT_FOUND


def test_transfer_through_the_api_s_acc_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    lines = _ready(tenant_a)
    r = tenant_a.api().post("/api/v1/account/transfers", {"to_operator_id": tenant_b.tenant.public_id,
                                                          "lines": [x.msisdn for x in lines]})
    assert r.status_code == 201, r.content
    token = r.json()["token"]
    assert tenant_a.api().get(f"/api/v1/account/transfers/{r.json()['transfer_id']}").json().get("token") is None
    bad = tenant_a.api().post("/api/v1/account/transfers", {"to_operator_id": tenant_b.tenant.public_id,
                                                            "lines": [tenant_a.line.msisdn]})
    assert bad.status_code == 409 and bad.json()["code"] == "LINE_NOT_TRANSFERABLE"
    preview = tenant_b.api().post("/api/v1/account/transfers/preview", {"token": token}).json()
    assert sorted(x["iccid"] for x in preview["lines"]) == sorted(x.iccid for x in lines)
    done = tenant_b.api().post("/api/v1/account/transfers/accept", {"token": token})
    assert done.status_code == 200 and done.json()["status"] == "accepted"
    again = tenant_b.api().post("/api/v1/account/transfers/accept", {"token": token})
    assert again.status_code == 400 and again.json()["code"] == "TRANSFER_TOKEN_INVALID"
    assert tenant_b.api().get(f"/api/v1/lines/{lines[0].pk}").status_code == 200
    assert tenant_a.api().get(f"/api/v1/lines/{lines[0].pk}").status_code == 404


def test_transfer_through_the_web_pages_s_acc_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    lines = _ready(tenant_a)
    a, b = Client(), Client()
    a.force_login(tenant_a.user)
    b.force_login(tenant_b.user)
    form = a.get(reverse("account:transfer_create")).content.decode()
    assert all(x.iccid in form for x in lines) and tenant_a.line.iccid not in form
    created = a.post(reverse("account:transfer_create"), {"to_operator_id": tenant_b.tenant.public_id,
                                                          "line": [str(x.pk) for x in lines]})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    token = created.context["token"]
    shown = b.post(reverse("account:transfer_accept"), {"token": token}).content.decode()
    assert all(x.iccid in shown for x in lines)
    done = b.post(reverse("account:transfer_accept"), {"token": token, "accept": "1"})
    assert done.status_code == 302
    assert {Line.objects.get(pk=x.pk).tenant_id for x in lines} == {tenant_b.tenant.pk}
    refused = a.post(reverse("account:transfer_create"), {"to_operator_id": tenant_b.tenant.public_id,
                                                          "refs": tenant_a.line.iccid})
    assert refused.status_code == 200 and "alert-danger" in refused.content.decode()


def test_cli_transfer_commands_call_the_api_s_acc_4(monkeypatch: pytest.MonkeyPatch, tenant_a: TenantWorld,
                                                    tenant_b: TenantWorld) -> None:
    import json

    from typer.testing import CliRunner

    import kaisen.tenancy.cli as account_cli
    from kaisen.cli import app

    calls: list[tuple[str, str, object]] = []

    def fake_api(method: str, path: str, *, url: object, params: object = None, body: object = None) -> object:
        calls.append((method, path, body))
        api = (tenant_b if path.endswith("/accept") else tenant_a).api()
        r = api.request(method, "/api/v1" + path, body)  # type: ignore[arg-type]
        assert r.status_code < 400, r.content
        return r.json()

    monkeypatch.setattr(account_cli, "api", fake_api)
    lines = _ready(tenant_a, 1)
    out = CliRunner().invoke(app, ["account", "transfer", "create", "--to", tenant_b.tenant.public_id,
                                   lines[0].iccid])
    assert out.exit_code == 0, out.output
    token = json.loads(out.output)["token"]
    out = CliRunner().invoke(app, ["account", "transfer", "accept", token])
    assert out.exit_code == 0, out.output
    assert Line.objects.get(pk=lines[0].pk).tenant_id == tenant_b.tenant.pk
    assert [c[1] for c in calls] == ["/account/transfers", "/account/transfers/accept"]


def test_every_blocker_is_found_for_each_sim_in_a_constant_number_of_queries_s_acc_4(
        tenant_a: TenantWorld, tenant_b: TenantWorld, django_assert_max_num_queries) -> None:
    from django.utils import timezone

    from kaisen.procedures.models import Order
    from kaisen.tenancy.models import DialInNumber

    clean, used, open_order, had_order, dialled = _ready(tenant_a, 5)
    _use(used)
    for line, status in ((open_order, "received"), (had_order, "completed")):
        Order.objects.create(tenant=tenant_a.tenant, line=line, kind="suspend", params={}, status=status,
                             idempotency_key=f"k-{line.pk}", params_hash="0" * 64, effective_date=dt.date(2026, 1, 1),
                             due_at=timezone.now())
    DialInNumber.objects.create(tenant=tenant_a.tenant, number="0312345678", line=dialled)
    more = _ready(tenant_a, 20)
    refs = [line.iccid for line in (clean, used, open_order, had_order, dialled, *more)]
    with pytest.raises(DomainError) as exc:
        services.transfer_create(actor=tenant_a.user, to_operator_id=tenant_b.tenant.public_id, lines=refs)
    reasons = {r["iccid"]: r["reasons"] for r in exc.value.details["refused"]}
    assert reasons == {used.iccid: ["usage"], open_order.iccid: ["open_order"], had_order.iccid: ["had_order"],
                       dialled.iccid: ["dial_in"]}
    lines = [clean, used, open_order, had_order, dialled, *more]
    with django_assert_max_num_queries(5):  # one per table, however many SIMs
        assert len(lines_transfer_blockers(lines)) == len(lines)
