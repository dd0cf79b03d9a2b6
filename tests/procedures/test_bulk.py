"""Bulk procedures from a CSV (X-BULK): encodings, the header, per-row results, dry run, result file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
import time_machine

from kaisen.core import clock
from kaisen.core.errors import DomainError
from kaisen.lines.models import Line, SimType
from kaisen.procedures.bulk import (
    MAX_ROWS,
    RESULT_COLUMNS,
    bulk_job_get,
    bulk_result_csv,
    bulk_run,
    csv_safe,
    parse_csv,
    row_params,
)
from kaisen.procedures.models import Order, OrderStatus
from tests.conftest import TenantWorld
from tests.factories import LineFactory, make_msisdn

pytestmark = pytest.mark.django_db

#: A Tuesday, inside reception hours (09:00-19:59 JST).
TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(TUESDAY_1030, tick=False):
        yield


def _run(world: TenantWorld, text: str | bytes, *, kind: str = "suspend", dry_run: bool = False,
         encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    data = text if isinstance(text, bytes) else text.encode(encoding)
    return bulk_run(tenant=world.tenant, user=world.user, kind=kind, csv_bytes=data, filename="lines.csv",
                    dry_run=dry_run)


def _result_rows(world: TenantWorld, job_id: int) -> tuple[bytes, list[list[str]]]:
    data = bulk_result_csv(tenant=world.tenant, job_id=job_id)
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _invalid(world: TenantWorld, text: str | bytes, kind: str = "suspend") -> DomainError:
    with pytest.raises(DomainError) as info:
        _run(world, text, kind=kind)
    assert info.value.code == "INVALID_CSV" or info.value.code == "VALIDATION_ERROR"
    return info.value


def test_suspend_every_line_of_a_utf8_file_x_bulk(tenant_a: TenantWorld) -> None:
    lines = tenant_a.lines
    text = "line\r\n" + "".join(f"{line.msisdn}\r\n" for line in lines)
    job = _run(tenant_a, text)
    assert (job.rows_total, job.rows_ok, job.rows_failed, job.dry_run) == (3, 3, 0, False)
    orders = Order.objects.filter(bulk_job=job).order_by("id")
    assert [o.line_id for o in orders] == [line.pk for line in lines]
    assert all(o.kind == "suspend" and o.requested_by == tenant_a.user for o in orders)
    assert [r["order_id"] for r in job.results] == [o.pk for o in orders]
    assert [r["result"] for r in job.results] == ["accepted"] * 3
    # Each row's idempotency key comes from the job and the row.
    assert {o.idempotency_key for o in orders} == {f"bulk-{job.pk}-{n}" for n in (1, 2, 3)}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "shift_jis"])
def test_excel_encodings_utf8_bom_and_shift_jis_x_bulk(tenant_a: TenantWorld, encoding: str) -> None:
    """Japanese Excel saves Shift_JIS (cp932); the file also carries Japanese text in a cell."""
    voice = LineFactory(tenant=tenant_a.tenant, sim_type=SimType.VOICE, msisdn=make_msisdn(4_000_001))
    text = ("line,holder_name,holder_name_kana\r\n"
            f"{voice.msisdn},株式会社テスト商事,カブシキガイシャテストショウジ\r\n")
    job = _run(tenant_a, text, kind="mnp_reservation", encoding=encoding)
    assert job.rows_ok == 1, job.results
    order = Order.objects.get(bulk_job=job)
    assert order.params["holder_name"] == "株式会社テスト商事"
    assert order.params["holder_name_kana"] == "カブシキガイシャテストショウジ"


def test_tab_separated_lf_iccid_and_full_width_digits_x_bulk(tenant_a: TenantWorld) -> None:
    a, b, c = tenant_a.lines
    wide = (b.msisdn or "").translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    text = f"line\tend_date\n{a.iccid}\t2026/12/31\n{wide}\t\n\n{c.msisdn}\t２０２７-０１-３１\n"
    job = _run(tenant_a, text, kind="cancellation")
    assert job.rows_ok == 3, job.results
    ends = {o.line_id: o.params["end_date"] for o in Order.objects.filter(bulk_job=job)}
    # An empty end date is the default: the last day of this month (M-PROC-6).
    assert ends == {a.pk: "2026-12-31", b.pk: "2026-11-30", c.pk: "2027-01-31"}


def test_a_bad_row_among_good_rows_is_reported_and_the_others_are_submitted_x_bulk(tenant_a: TenantWorld,
                                                                                   tenant_b: TenantWorld) -> None:
    a, b, c = tenant_a.lines
    text = ("line,end_date\r\n"
            f"{a.msisdn},2026-12-31\r\n"
            f"{b.msisdn},2031-01-01\r\n"  # more than 2 years ahead
            f"{tenant_b.line.msisdn},2026-12-31\r\n"  # another tenant's line: not found, nothing revealed
            "03-1234-5678,2026-12-31\r\n"  # not a mobile number
            f"{c.msisdn},31.12.2026x\r\n"  # not a date
            f"{a.iccid},2026-12-30\r\n")  # the same line again
    job = _run(tenant_a, text, kind="cancellation")
    by_row = {r["row"]: r for r in job.results}
    assert [by_row[n]["ok"] for n in range(1, 7)] == [True, False, False, False, False, False]
    assert by_row[2]["code"] == "INVALID_DATE"
    assert by_row[3]["code"] == "NOT_FOUND"
    assert tenant_b.tenant.legal_name not in by_row[3]["message"]
    assert by_row[4]["code"] == "INVALID_PHONE_NUMBER"
    assert by_row[5]["code"] in ("VALIDATION_ERROR", "INVALID_DATE")
    assert by_row[6]["code"] == "ORDER_CONFLICT"
    assert Order.objects.filter(bulk_job=job).count() == 1
    assert not Order.objects.filter(line=tenant_b.line).exists()
    assert (job.rows_ok, job.rows_failed) == (1, 5)


def test_a_row_the_service_refuses_does_not_undo_the_others_x_bulk(tenant_a: TenantWorld) -> None:
    """A line already suspended is refused by the rules, in its own transaction."""
    a, b, _c = tenant_a.lines
    Line.objects.filter(pk=b.pk).update(status="suspended")
    job = _run(tenant_a, f"line\n{a.msisdn}\n{b.msisdn}\n")
    assert [r["ok"] for r in job.results] == [True, False]
    assert job.results[1]["code"] == "LINE_NOT_ELIGIBLE"
    assert Order.objects.get(bulk_job=job).line_id == a.pk


def test_dry_run_writes_no_order_and_says_what_would_happen_x_bulk(tenant_a: TenantWorld) -> None:
    a, b, _c = tenant_a.lines
    before = Order.objects.count()
    job = _run(tenant_a, f"line,end_date\n{a.msisdn},2026-12-31\n{b.msisdn},2029-01-01\n", kind="cancellation",
               dry_run=True)
    assert Order.objects.count() == before
    assert job.dry_run and (job.rows_ok, job.rows_failed) == (1, 1)
    assert job.results[0]["result"] == "would_accept" and job.results[0]["effective_date"] == "2026-12-31"
    assert job.results[1]["result"] == "would_refuse" and job.results[1]["code"] == "INVALID_DATE"
    _data, rows = _result_rows(tenant_a, job.pk)
    assert rows[1][2:4] == ["would_accept", ""]  # no order ID in a dry run


def test_result_csv_columns_bom_crlf_x_bulk(tenant_a: TenantWorld) -> None:
    a, b, _c = tenant_a.lines
    job = _run(tenant_a, f"line,end_date\n{a.msisdn},2026-12-31\n{b.msisdn},2030-01-01\n", kind="cancellation")
    data, rows = _result_rows(tenant_a, job.pk)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 3 and data.replace(b"\r\n", b"").count(b"\n") == 0
    assert rows[0] == ["line", "end_date", *RESULT_COLUMNS]
    assert RESULT_COLUMNS == ("result", "order_id", "effective_date", "code", "message")
    order = Order.objects.get(bulk_job=job)
    assert rows[1][:6] == [a.msisdn, "2026-12-31", "accepted", str(order.pk), "2026-12-31", ""]
    assert rows[2][:5] == [b.msisdn, "2030-01-01", "refused", "", ""]
    assert rows[2][5] == "INVALID_DATE" and rows[2][6]


def test_formula_injection_is_neutralised_in_the_result_file_x_bulk(tenant_a: TenantWorld) -> None:
    voice = LineFactory(tenant=tenant_a.tenant, sim_type=SimType.VOICE, msisdn=make_msisdn(4_000_002))
    text = ("line,holder_name,holder_name_kana\n"
            f"{voice.msisdn},=HYPERLINK(\"http://evil.example\"),+SUM(A1)\n"
            "@cmd,-2+3,\tx\n")
    job = _run(tenant_a, text, kind="mnp_reservation")
    assert job.rows_ok == 0
    _data, rows = _result_rows(tenant_a, job.pk)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert rows[1][1] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[2][0] == "'@cmd"
    assert csv_safe("-1") == "'-1" and csv_safe("09012345678") == "09012345678" and csv_safe(None) == ""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("\r\n\r\n", "empty"),
        ("line\r\n", "no lines"),
        ("msisdn\r\n09012345678\r\n", "line"),
        ("line,colour\r\n09012345678,red\r\n", "colour"),
        ("line,end_date,end_date\r\n09012345678,,\r\n", "end_date"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole_x_bulk(tenant_a: TenantWorld, text: str, needle: str) -> None:
    error = _invalid(tenant_a, text, kind="cancellation")
    assert error.code == "INVALID_CSV"
    assert needle in str(error.message)


def test_binary_and_unknown_encoding_and_kind_are_refused_x_bulk(tenant_a: TenantWorld) -> None:
    assert _invalid(tenant_a, b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x80").code == "INVALID_CSV"
    error = _invalid(tenant_a, "line\n09012345678\n", kind="teleport")
    assert error.code == "VALIDATION_ERROR" and error.field == "kind"


def test_at_most_max_rows_x_bulk(tenant_a: TenantWorld) -> None:
    header = "line\n"
    parse_csv((header + "09012345678\n" * MAX_ROWS).encode(), "suspend")
    with pytest.raises(DomainError) as info:
        parse_csv((header + "09012345678\n" * (MAX_ROWS + 1)).encode(), "suspend")
    assert info.value.code == "INVALID_CSV" and f"{MAX_ROWS:,}".replace(",", "") in str(info.value.message)


def test_columns_become_params_of_the_procedure() -> None:
    header = ["line", "effective", "voicemail", "international_call_cap", "network_pin", "call_waiting"]
    params = row_params("voice_options", header, ["090", "next_month", "あり", "５，０００", "0123", ""])
    assert params == {"effective": "next_month",
                      "options": {"voicemail": True, "international_call_cap": 5000, "network_pin": "0123"}}
    params = row_params("sim_reissue", ["line", "sim_size", "ship_date", "delivery_postal_code", "delivery_address",
                                        "delivery_recipient"],
                        ["x", "nano", "2026/11/30", "100-0001", "東京都千代田区千代田1-1", "総務部 山田"])
    assert params == {"sim_size": "nano", "ship_date": "2026-11-30",
                      "delivery_address": {"postal_code": "100-0001", "address": "東京都千代田区千代田1-1",
                                           "recipient": "総務部 山田"}}
    with pytest.raises(DomainError) as info:
        row_params("plan_change", ["line", "data_cap_mb"], ["x", "lots"])
    assert info.value.code == "VALIDATION_ERROR" and info.value.field == "data_cap_mb"


def test_another_tenants_job_is_not_found_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    job = _run(tenant_b, f"line\n{tenant_b.line.msisdn}\n", dry_run=True)
    for call in (lambda: bulk_job_get(tenant=tenant_a.tenant, job_id=job.pk),
                 lambda: bulk_result_csv(tenant=tenant_a.tenant, job_id=job.pk)):
        with pytest.raises(DomainError) as info:
            call()
        assert info.value.code == "NOT_FOUND"


def test_bulk_orders_are_ordinary_orders(tenant_a: TenantWorld) -> None:
    """A bulk order follows the same workflow: it waits to be carried out, it has its history."""
    job = _run(tenant_a, f"line\n{tenant_a.line.msisdn}\n")
    order = Order.objects.get(bulk_job=job)
    assert order.status in (OrderStatus.RECEIVED, OrderStatus.SCHEDULED)
    assert order.events.exists()
