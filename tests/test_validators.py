"""Bad input is rejected with a clear message and a stable code (issue #2 rules; M-LINE-1, M-DL-4, M-USER-2, T-1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation

from kaisen.accounts.services import user_create
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.numbers import iccid_normalize, luhn_check_digit, msisdn_normalize
from kaisen.tenancy.models import Tenant
from kaisen.tenancy.services import tenant_create
from tests.factories import TenantFactory, make_iccid, make_msisdn


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are checked in English; the Japanese catalogue is checked by tests/i18n_check.py."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    "raw",
    [
        "090-1234-567",  # too short
        "0901234567",  # 10 digits
        "090123456789",  # 12 digits
        "03-1234-5678",  # Tokyo landline
        "0312345678",
        "050-1234-5678",  # IP phone
        "0120-123-456",  # toll free
        "090-abcd-5678",  # letters
        "phone",
        "+1 212 555 0123",  # US number
        "+19012345678",
        "",
        "   ",
    ],
)
def test_malformed_phone_number_rejected_m_line_1(raw: str) -> None:
    """M-LINE-1 / M-DL-4: only Japanese mobile and IoT numbers are line numbers."""
    with pytest.raises(DomainError) as info:
        msisdn_normalize(raw)
    assert info.value.code == ErrorCode.INVALID_PHONE_NUMBER
    assert info.value.field == "msisdn"
    message = str(info.value.message)
    assert "090-1234-5678" in message
    assert f"'{raw}'" in message, "the message quotes what the user typed"
    assert info.value.http_status == 400


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("090-1234-5678", "09012345678"),
        ("09012345678", "09012345678"),
        ("090 1234 5678", "09012345678"),
        ("０９０－１２３４－５６７８", "09012345678"),  # full-width digits and hyphens
        ("０９０１２３４５６７８", "09012345678"),
        ("+819012345678", "09012345678"),
        ("+81 90-1234-5678", "09012345678"),
        ("080-2345-6789", "08023456789"),
        ("070-3456-7890", "07034567890"),
        ("020-1234-5678", "02012345678"),  # M2M / IoT range
    ],
)
def test_accepted_phone_forms_normalise_to_11_digits_m_line_1(raw: str, expected: str) -> None:
    """M-LINE-1: the forms people type all find the same line."""
    assert msisdn_normalize(raw) == expected
    assert len(expected) == 11


def test_factory_numbers_are_valid_mobile_numbers() -> None:
    for n in (0, 1, 9_999_999, 10_000_000, 123_456_789):
        assert msisdn_normalize(make_msisdn(n)) == make_msisdn(n)


def test_iccid_with_bad_check_digit_rejected_m_dl_4() -> None:
    """M-DL-4: the SIM serial is validated with its Luhn check digit."""
    good = make_iccid(4242)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(DomainError) as info:
        iccid_normalize(bad)
    assert info.value.code == ErrorCode.INVALID_ICCID
    assert info.value.field == "iccid"
    assert "check digit" in str(info.value.message)
    assert bad in str(info.value.message)


def test_valid_iccid_accepted_m_dl_4() -> None:
    good = make_iccid(4242)
    assert iccid_normalize(good) == good
    assert iccid_normalize(f"{good[:4]}-{good[4:10]} {good[10:]}") == good
    twenty = make_iccid(77, length=20)
    assert len(twenty) == 20
    assert iccid_normalize(twenty) == twenty


def test_known_iccid_check_digit() -> None:
    assert luhn_check_digit("7992739871") == 3  # the textbook Luhn example
    assert luhn_check_digit("8901410321111851072") == 0  # a published 20-digit ICCID: 89014103211118510720
    assert iccid_normalize("89014103211118510720") == "89014103211118510720"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("898100000000000001", "19 or 20 digits"),  # 18 digits
        ("8981000000000000000001", "19 or 20 digits"),  # 22 digits
        ("89810000000000000x1", "19 or 20 digits"),
        ("1234567890123456789", "starts with 89"),
    ],
)
def test_iccid_wrong_length_or_prefix_rejected_m_dl_4(raw: str, needle: str) -> None:
    with pytest.raises(DomainError) as info:
        iccid_normalize(raw)
    assert info.value.code == ErrorCode.INVALID_ICCID
    assert needle in str(info.value.message)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "username",
    ["abcde", "a" * 33, "user-name", "ユーザー名前です", "user name", "user.name", ""],
)
def test_bad_usernames_rejected_m_user_2(username: str) -> None:
    """M-USER-2: 6 to 32 characters of [A-Za-z0-9_]."""
    tenant = TenantFactory()
    with pytest.raises(DomainError) as info:
        user_create(tenant=tenant, username=username, password="x-Long-password-1")
    assert info.value.code == ErrorCode.INVALID_USERNAME
    assert info.value.field == "username"
    assert "6 to 32" in str(info.value.message)


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["abcdef", "A" * 32, "user_01", "ABC_xyz_019"])
def test_good_usernames_accepted_m_user_2(username: str) -> None:
    tenant = TenantFactory()
    user = user_create(tenant=tenant, username=username, password="x-Long-password-1")
    user.refresh_from_db()
    assert user.username == username
    assert user.tenant == tenant


@pytest.mark.django_db
def test_duplicate_username_in_tenant_rejected_but_allowed_in_another_tenant_m_user_2() -> None:
    a, b = TenantFactory(), TenantFactory()
    user_create(tenant=a, username="same_name", password="x-Long-password-1")
    with pytest.raises(DomainError) as info:
        user_create(tenant=a, username="same_name", password="x-Long-password-1")
    assert info.value.code == ErrorCode.DUPLICATE
    assert user_create(tenant=b, username="same_name", password="x-Long-password-1").tenant == b


@pytest.mark.django_db
@pytest.mark.parametrize("public_id", ["OP123", "OP12345678901", "op0123456789", "XX0123456789", "OP01234S6789"])
def test_tenant_create_rejects_malformed_operator_id_t_1(public_id: str) -> None:
    """T-1: the operator ID is 'OP' + 10 digits."""
    with pytest.raises(DomainError) as info:
        tenant_create(legal_name="株式会社テスト", contract_code="K-1", contact_email="a@example.jp",
                      notification_email="n@example.jp", public_id=public_id)
    assert info.value.code == ErrorCode.INVALID_OPERATOR_ID
    assert info.value.field == "public_id"
    assert "OP" in str(info.value.message)
    assert not Tenant.objects.filter(contract_code="K-1").exists()


@pytest.mark.django_db
def test_tenant_create_generates_operator_id_t_1() -> None:
    tenant = tenant_create(legal_name="株式会社テスト", contract_code="K-2", contact_email="a@example.jp",
                           notification_email="n@example.jp")
    assert tenant.public_id.startswith("OP")
    assert len(tenant.public_id) == 12
    assert tenant.public_id[2:].isdigit()
    explicit = tenant_create(legal_name="株式会社テスト2", contract_code="K-3", contact_email="a@example.jp",
                             notification_email="n@example.jp", public_id="OP0123456789")
    assert explicit.public_id == "OP0123456789"
