"""K-1 contract summary, K-2 phone-number pages (NEXT / BACK), S-ACC-3 contract holder info and login email."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from kaisen.account.selectors import number_detail
from kaisen.accounts.email_login import login_email_change_confirm, login_email_change_request
from kaisen.accounts.models import User
from kaisen.audit.models import AuditEvent
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import LineStatus
from kaisen.tenancy.models import ConnectionType, ContractService, DialInNumber
from tests.conftest import TenantWorld, make_world
from tests.factories import PASSWORD, LineFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_contract_summary_shows_the_contract_k_1(tenant_a: TenantWorld) -> None:
    t = tenant_a.tenant
    t.contract_started_on, t.channels, t.connection_type = dt.date(2010, 11, 15), 2, ConnectionType.DIAL_IN
    t.dns_primary, t.dns_secondary = "192.0.2.53", "192.0.2.54"
    t.save()
    ContractService.objects.create(tenant=t, name="ダイヤルイン", applied=False, position=1)
    ContractService.objects.create(tenant=t, name="フリーコール(選択)番号通知サービス", applied=True, position=2)
    LineFactory(tenant=t, status=LineStatus.CANCELLED)
    DialInNumber.objects.create(tenant=t, number="0312345678", line=tenant_a.line)
    page = _client(tenant_a.user).get(reverse("account:contract"))
    assert page.status_code == 200
    html = page.content.decode()
    for text in (t.contract_code, "2010-11-15", "192.0.2.53", "192.0.2.54", "ダイヤルイン",
                 "フリーコール(選択)番号通知サービス"):
        assert text in html
    api = tenant_a.api().get("/api/v1/account/contract").json()
    assert api["numbers_total"] == 4 and api["numbers_by_status"]["cancelled"] == 1
    assert api["extra_dial_in_numbers"] == 1 and api["channels"] == 2
    assert [(s["name"], s["applied"]) for s in api["services"]] == [
        ("ダイヤルイン", False), ("フリーコール(選択)番号通知サービス", True)]


def test_operator_id_is_in_the_account_menu_s_acc_2(tenant_a: TenantWorld) -> None:
    html = _client(tenant_a.user).get(reverse("account:contract")).content.decode()
    assert re.search(r'class="operator-id"[^>]*>' + tenant_a.tenant.public_id, html)


def _numbers(world: TenantWorld) -> list[int]:
    return [line.pk for line in sorted(world.lines, key=lambda x: (x.msisdn, x.pk))]


def test_next_and_back_at_the_first_and_the_last_number_k_2(tenant_a: TenantWorld) -> None:
    ids = _numbers(tenant_a)
    first = number_detail(user=tenant_a.user)
    assert first.line.pk == ids[0] and first.prev_id is None and first.next_id == ids[1]
    last = number_detail(user=tenant_a.user, line_id=ids[-1])
    assert last.next_id is None and last.prev_id == ids[-2]
    c = _client(tenant_a.user)
    page = c.get(reverse("account:number", args=[ids[0]])).content.decode()
    assert f'href="{reverse("account:number", args=[ids[1]])}"' in page and 'rel="prev"' not in page
    page = c.get(reverse("account:number", args=[ids[-1]])).content.decode()
    assert 'rel="next"' not in page and f'href="{reverse("account:number", args=[ids[-2]])}"' in page
    assert f'href="{reverse("lines:detail", args=[ids[-1]])}"' in page
    api = tenant_a.api().get(f"/api/v1/account/numbers/{ids[1]}").json()
    assert (api["prev_line_id"], api["next_line_id"]) == (ids[0], ids[2])


def test_same_number_twice_pages_by_id_k_2(tenant_a: TenantWorld) -> None:
    """A reissued number can exist twice (one cancelled): the keyset (msisdn, id) visits both, once each."""
    twin = LineFactory(tenant=tenant_a.tenant, msisdn=tenant_a.lines[0].msisdn, status=LineStatus.CANCELLED)
    seen, detail = [], number_detail(user=tenant_a.user)
    while True:
        seen.append(detail.line.pk)
        if detail.next_id is None:
            break
        detail = number_detail(user=tenant_a.user, line_id=detail.next_id)
    assert sorted(seen) == sorted([*(x.pk for x in tenant_a.lines), twin.pk]) and len(set(seen)) == len(seen)
    back, detail = [], number_detail(user=tenant_a.user, line_id=seen[-1])
    while True:
        back.append(detail.line.pk)
        if detail.prev_id is None:
            break
        detail = number_detail(user=tenant_a.user, line_id=detail.prev_id)
    assert back == seen[::-1]


def test_dial_in_number_and_base_number_are_shown_k_2(tenant_a: TenantWorld) -> None:
    tenant_a.tenant.base_number = "0120222333"
    tenant_a.tenant.save()
    DialInNumber.objects.create(tenant=tenant_a.tenant, number="0312345678", line=tenant_a.line,
                                started_on=dt.date(2024, 5, 1))
    api = tenant_a.api().get(f"/api/v1/account/numbers/{tenant_a.line.pk}").json()
    assert api["base_number"] == "0120222333" and api["dial_in_number"] == "0312345678"
    assert api["mobile_number"] == tenant_a.line.msisdn and api["started_on"] == "2024-05-01"


def test_a_limited_user_pages_only_through_their_lines_k_2(monkeypatch: pytest.MonkeyPatch,
                                                           tenant_a: TenantWorld) -> None:
    from django.db.models import Q

    from kaisen.account import selectors

    mine = tenant_a.lines[1]
    monkeypatch.setattr(selectors, "line_scope", lambda *, user, prefix="": Q(pk=mine.pk))
    d = number_detail(user=tenant_a.user)
    assert d.line.pk == mine.pk and d.prev_id is None and d.next_id is None
    with pytest.raises(DomainError) as exc:
        number_detail(user=tenant_a.user, line_id=tenant_a.lines[0].pk)
    assert exc.value.code == ErrorCode.NOT_FOUND


def test_another_tenants_number_is_404_k_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    assert _client(tenant_a.user).get(reverse("account:number", args=[tenant_b.line.pk])).status_code == 404
    assert tenant_a.api().get(f"/api/v1/account/numbers/{tenant_b.line.pk}").status_code == 404


# --- S-ACC-3 ---------------------------------------------------------------------------------------

def test_root_updates_the_contract_holder_and_it_is_audited_s_acc_3(tenant_a: TenantWorld) -> None:
    c = _client(tenant_a.user)
    page = c.get(reverse("account:profile")).content.decode()
    assert "請求" in page or "Billing" in page  # billing information is separate, and the page says so
    data = {"contact_name": "山田 花子", "contact_name_kana": "ヤマダ ハナコ", "contact_phone": "03-1234-5678",
            "contact_email": "yamada@example.co.jp", "notification_email": "notice@example.co.jp",
            "postal_code": "1050011", "address": "東京都港区芝公園4-2-8"}
    assert c.post(reverse("account:profile"), data).status_code == 302
    t = tenant_a.tenant
    t.refresh_from_db()
    assert (t.contact_name, t.postal_code, t.address) == ("山田 花子", "105-0011", "東京都港区芝公園4-2-8")
    event = AuditEvent.objects.get(tenant=t, action="account.contract_holder.update")
    assert event.changes["contact_name"][1] == "山田 花子"


@pytest.mark.parametrize("field,value", [("contact_name_kana", "yamada"), ("postal_code", "12-345"),
                                         ("contact_phone", "phone"), ("contact_email", "not-an-email")])
def test_bad_contract_holder_input_is_refused_s_acc_3(tenant_a: TenantWorld, field: str, value: str) -> None:
    before = tenant_a.tenant.updated_at
    r = tenant_a.api().client.patch("/api/v1/account/profile", {field: value}, content_type="application/json",
                                    headers={"Authorization": f"Bearer {tenant_a.token}"})
    assert r.status_code in (400, 422) and r.json()["code"] == "VALIDATION_ERROR"
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.updated_at == before


def test_a_limited_user_cannot_change_the_contract_holder_s_acc_3(tenant_a: TenantWorld) -> None:
    clerk = UserFactory(tenant=tenant_a.tenant, is_root=False)
    c = _client(clerk)
    assert c.post(reverse("account:profile"), {"contact_email": "x@example.co.jp",
                                               "notification_email": "y@example.co.jp"}).status_code == 403
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.contact_email != "x@example.co.jp"


def _link_token(mails: list[dict[str, Any]]) -> str:
    match = re.search(r"token=([\w-]+)", mails[-1]["body"])
    assert match, mails[-1]
    return match.group(1)


def test_login_email_changes_only_after_the_link_s_acc_3(tenant_a: TenantWorld, mails: list[dict[str, Any]]) -> None:
    root = tenant_a.user
    root.email = "old@example.co.jp"
    root.save()
    login_email_change_request(actor=root, new_email="New@Example.co.jp", link_base="http://x/confirm/")
    assert mails[-1]["to"] == ["new@example.co.jp"]
    root.refresh_from_db()
    assert root.email == "old@example.co.jp"  # not before the link
    token = _link_token(mails)
    login_email_change_confirm(actor=root, token=token)
    root.refresh_from_db()
    assert root.email == "new@example.co.jp"
    assert mails[-1]["to"] == ["old@example.co.jp"]  # the security notice to the old address
    assert token not in mails[-1]["body"]
    with pytest.raises(DomainError) as exc:  # single use
        login_email_change_confirm(actor=root, token=token)
    assert exc.value.code == ErrorCode.EMAIL_LINK_INVALID
    from kaisen.accounts.email_login import login_check_email

    assert login_check_email(request=None, email="new@example.co.jp", password=PASSWORD).pk == root.pk
    with pytest.raises(DomainError):
        login_check_email(request=None, email="old@example.co.jp", password=PASSWORD)


def test_login_email_link_expires_after_24_hours_s_acc_3(tenant_a: TenantWorld, mails: list[dict[str, Any]]) -> None:
    root = tenant_a.user
    with time_machine.travel(dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC), tick=False):
        login_email_change_request(actor=root, new_email="late@example.co.jp", link_base="http://x/c/")
    token = _link_token(mails)
    with time_machine.travel(dt.datetime(2026, 11, 25, 1, 0, 1, tzinfo=dt.UTC), tick=False), \
            pytest.raises(DomainError) as exc:
        login_email_change_confirm(actor=root, token=token)
    assert exc.value.code == ErrorCode.EMAIL_LINK_INVALID
    root.refresh_from_db()
    assert root.email != "late@example.co.jp"


def test_login_email_link_of_another_user_and_a_newer_request_s_acc_3(mails: list[dict[str, Any]]) -> None:
    a, b = make_world(1), make_world(1)
    login_email_change_request(actor=a.user, new_email="first@example.co.jp", link_base="http://x/c/")
    first = _link_token(mails)
    with pytest.raises(DomainError):  # B's root cannot use A's link
        login_email_change_confirm(actor=b.user, token=first)
    login_email_change_request(actor=a.user, new_email="second@example.co.jp", link_base="http://x/c/")
    with pytest.raises(DomainError):  # the newer request withdrew the older link
        login_email_change_confirm(actor=a.user, token=first)
    login_email_change_confirm(actor=a.user, token=_link_token(mails))
    a.user.refresh_from_db()
    assert a.user.email == "second@example.co.jp"


def test_a_root_email_in_use_is_refused_s_acc_1_s_acc_3(mails: list[dict[str, Any]]) -> None:
    a, b = make_world(1), make_world(1)
    b.user.email = "taken@example.co.jp"
    b.user.save()
    with pytest.raises(DomainError) as exc:
        login_email_change_request(actor=a.user, new_email="TAKEN@example.co.jp", link_base="http://x/c/")
    assert exc.value.code == ErrorCode.EMAIL_IN_USE


def test_login_email_change_by_web_and_api_s_acc_3(tenant_a: TenantWorld, mails: list[dict[str, Any]]) -> None:
    c = _client(tenant_a.user)
    r = c.post(reverse("account:login_email"), {"email": "web@example.co.jp"})
    assert r.status_code == 302
    token = _link_token(mails)
    assert "/account/login-email/confirm/?token=" in mails[-1]["body"]
    page = c.get(reverse("account:login_email_confirm") + f"?token={token}")
    assert page.status_code == 200 and "web@example.co.jp" in page.content.decode()
    tenant_a.user.refresh_from_db()
    assert tenant_a.user.email != "web@example.co.jp"  # opening the page alone changes nothing
    assert c.post(reverse("account:login_email_confirm"), {"token": token}).status_code == 302
    tenant_a.user.refresh_from_db()
    assert tenant_a.user.email == "web@example.co.jp"
    api = tenant_a.api()
    assert api.post("/api/v1/account/login-email", {"email": "api@example.co.jp"}).status_code == 202
    assert api.post("/api/v1/account/login-email/confirm", {"token": "nope"}).status_code == 400
    assert api.post("/api/v1/account/login-email/confirm", {"token": _link_token(mails)}).json()[
        "login_email"] == "api@example.co.jp"
