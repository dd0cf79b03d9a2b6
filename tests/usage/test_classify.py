"""Call classification table (issue 4 §1; M-DL-3, K-4, K-7): pure functions, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from kaisen.usage.classify import ClassifyError, billing_month, classify
from kaisen.usage.models import CallType

JST = dt.timezone(dt.timedelta(hours=9))


@pytest.mark.parametrize(("destination", "service", "roaming", "network", "expected", "exempt"), [
    ("0312345678", "voice", "", "", CallType.DOMESTIC, False),
    ("03-1234-5678", "voice", "", "", CallType.DOMESTIC, False),
    ("117", "voice", "", "", CallType.DOMESTIC, False),  # M-DL-3: 117/171 are ordinary calls
    ("171", "voice", "", "", CallType.DOMESTIC, False),
    ("188", "voice", "", "", CallType.OTHER_CARRIER_SERVICE, False),  # M-DL-3: 188/189 other-carrier services
    ("189", "voice", "", "", CallType.OTHER_CARRIER_SERVICE, False),
    ("0570-000-111", "voice", "", "", CallType.OTHER_CARRIER_SERVICE, False),
    ("05012345678", "voice", "", "", CallType.IP, False),  # K-7 IP間呼
    ("104", "voice", "", "", CallType.DIRECTORY_ASSISTANCE, False),  # K-7: counted (N件)
    ("09012345678", "voice", "", "docomo", CallType.MOBILE, False),
    ("08012345678", "voice", "", "au", CallType.MOBILE_AU, False),  # K-6 au column
    ("07012345678", "voice", "", "rakuten", CallType.MOBILE, False),
    ("0101-212-555-0100", "voice", "", "", CallType.INTERNATIONAL, True),  # M-DL-1: international tax-exempt
    ("+14155550100", "voice", "", "", CallType.INTERNATIONAL, True),
    ("+81312345678", "voice", "", "", CallType.DOMESTIC, False),  # +81 is a Japanese number
    ("+819012345678", "voice", "", "au", CallType.MOBILE_AU, False),
    ("0312345678", "voice", "out", "", CallType.ROAMING_OUTGOING, True),  # roaming tax-exempt
    ("09012345678", "voice", "in", "", CallType.ROAMING_INCOMING, True),
    ("09012345678", "sms", "", "", CallType.SMS, False),
    ("+14155550100", "sms", "", "", CallType.SMS_INTERNATIONAL, True),
    ("09012345678", "sms", "out", "", CallType.SMS_INTERNATIONAL, True),
])
def test_classification_table_m_dl_3(destination: str, service: str, roaming: str, network: str,
                                     expected: CallType, exempt: bool) -> None:
    result = classify(destination=destination, service=service, roaming=roaming, network=network)
    assert result.call_type == expected
    assert result.tax_exempt is exempt


def test_destination_is_stored_without_hyphens() -> None:
    assert classify(destination="03-1234-5678").destination == "0312345678"


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"destination": ""}, "bad_destination"),
    ({"destination": "abc"}, "bad_destination"),
    ({"destination": "0312345678", "roaming": "sideways"}, "bad_roaming"),
    ({"destination": "0312345678", "network": "vodafone"}, "bad_network"),
    ({"destination": "0312345678", "service": "fax"}, "bad_service"),
])
def test_unclassifiable_records_are_refused_with_a_reason(kwargs: dict, code: str) -> None:
    with pytest.raises(ClassifyError) as info:
        classify(**kwargs)
    assert info.value.code == code


def test_a_call_spanning_month_end_is_billed_next_month_k_4() -> None:
    start = dt.datetime(2026, 5, 31, 23, 59, 0, tzinfo=JST)
    assert billing_month(started_at=start, duration_ds=590, tz=JST) == dt.date(2026, 5, 1)  # ends 23:59:59.0
    assert billing_month(started_at=start, duration_ds=600, tz=JST) == dt.date(2026, 5, 1)  # ends at 00:00:00.0
    assert billing_month(started_at=start, duration_ds=601, tz=JST) == dt.date(2026, 6, 1)  # 00:00:00.1: next month


def test_billing_month_is_japan_time() -> None:
    # 2026-05-31 15:30 UTC is 2026-06-01 00:30 JST: June.
    start = dt.datetime(2026, 5, 31, 15, 30, tzinfo=dt.UTC)
    assert billing_month(started_at=start, duration_ds=10, tz=JST) == dt.date(2026, 6, 1)
