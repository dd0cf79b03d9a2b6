"""Usage-file ingestion (issue 4 §1): bulk, idempotent per file and per record, bad rows reported,
unknown lines kept aside and rematched, future dates refused, gzip. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gzip
import io

import pytest

from kaisen.core.errors import DomainError, ErrorCode
from kaisen.usage.ingest import usage_file_import, usage_rematch
from kaisen.usage.models import (
    CallRecord,
    CallType,
    DataUsageDaily,
    UnmatchedCall,
    UnmatchedDataUsage,
    UsageFile,
    UsageRollup,
    UsageRowError,
)
from tests.factories import LineFactory, TenantFactory, make_iccid

pytestmark = pytest.mark.django_db

JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=JST)
HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"


def _import(text: str, name: str = "calls.csv", **kw: object) -> dict:
    return usage_file_import(fileobj=io.BytesIO(text.encode()), name=name, now=NOW, **kw).as_dict()  # type: ignore[arg-type]


@pytest.fixture
def line():
    return LineFactory(msisdn="09011112222")


def test_calls_are_loaded_and_classified(line) -> None:
    result = _import(HEADER + "\n".join([
        "R1,09011112222,2026-05-01 20:12:21.5,660,03-1234-5678,東京,,0,1,,voice",
        "R2,09011112222,2026-05-02 10:00:00.0,300,104,番号案内,,0,3,,voice",
        "R3,09011112222,2026-05-03 10:00:00.0,0,+14155550100,アメリカ,,0,1,,sms",
        "R4,09011112222,2026-05-04 10:00:00.0,120,08012345678,携帯,au,1,1,,voice",
    ]) + "\n")
    assert result["rows_loaded"] == 4 and result["rows_rejected"] == 0 and result["rows_unmatched"] == 0
    calls = {c.record_id: c for c in CallRecord.objects.all()}
    r1 = calls["R1"]
    assert r1.line_id == line.pk and r1.tenant_id == line.tenant_id
    assert r1.started_at == dt.datetime(2026, 5, 1, 20, 12, 21, 500000, tzinfo=JST)
    assert (r1.duration_ds, r1.call_type, r1.tax_exempt, r1.destination_number) == (660, "domestic", False,
                                                                                    "0312345678")
    assert (calls["R2"].call_type, calls["R2"].units) == (CallType.DIRECTORY_ASSISTANCE, 3)
    assert (calls["R3"].call_type, calls["R3"].tax_exempt) == (CallType.SMS_INTERNATIONAL, True)
    assert (calls["R4"].call_type, calls["R4"].is_internal) == (CallType.MOBILE_AU, True)
    assert all(c.billing_month == dt.date(2026, 5, 1) for c in calls.values())


def test_a_call_spanning_month_end_is_billed_next_month_k_4(line) -> None:
    _import(HEADER + "R1,09011112222,2026-05-31 23:58:00.0,1800,0312345678,東京,,0,1,,voice\n")
    assert CallRecord.objects.get().billing_month == dt.date(2026, 6, 1)


def test_reimporting_the_same_file_changes_nothing(line) -> None:
    text = HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n"
    first = _import(text)
    second = _import(text)
    assert second["already_imported"] is True and second["id"] == first["id"]
    assert UsageFile.objects.count() == 1 and CallRecord.objects.count() == 1


def test_the_same_records_in_another_file_are_not_loaded_twice(line) -> None:
    row = "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n"
    _import(HEADER + row, name="a.csv")
    again = _import(HEADER + row + row.replace("R1", "R2"), name="b.csv")
    assert (again["rows_loaded"], again["rows_duplicate"]) == (1, 1)
    assert CallRecord.objects.count() == 2


def test_broken_rows_are_reported_and_good_rows_loaded(line) -> None:
    result = _import(HEADER + "\n".join([
        "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice",  # line 2: good
        "R2,09011112222,yesterday,660,0312345678,東京,,0,1,,voice",  # 3: bad start
        "R3,09011112222,2026-05-01 20:12:21.5,-5,0312345678,東京,,0,1,,voice",  # 4: negative duration
        "R4,0901111,2026-05-01 20:12:21.5,10,0312345678,東京,,0,1,,voice",  # 5: bad number
        "R5,09011112222,2026-05-01 20:12:21.5,10,0312345678",  # 6: missing columns
        "R6,09011112222,2026-07-01 10:00:00.0,10,0312345678,東京,,0,1,,voice",  # 7: future
        "R7,09011112222,2026-05-02 20:12:21.5,10,0312345678,東京,,0,1,,voice",  # 8: good
    ]) + "\n")
    assert (result["rows_total"], result["rows_loaded"], result["rows_rejected"]) == (7, 2, 5)
    errors = list(UsageRowError.objects.values_list("row_no", "code"))
    assert errors == [(3, "bad_start"), (4, "bad_duration"), (5, "bad_msisdn"), (6, "bad_columns"),
                      (7, "future_date")]
    assert set(CallRecord.objects.values_list("record_id", flat=True)) == {"R1", "R7"}


def test_dates_in_the_future_are_rejected(line) -> None:
    result = _import(HEADER + "R1,09011112222,2026-06-15 11:59:00.0,1200,0312345678,東京,,0,1,,voice\n")
    assert result["rows_rejected"] == 1 and CallRecord.objects.count() == 0  # ends 12:19, after NOW
    data = usage_file_import(fileobj=io.BytesIO(b"date,msisdn,bytes\n2026-06-16,09011112222,5\n"
                                                b"2026-06-15,09011112222,7\n"), name="d.csv", now=NOW)
    assert (data.file.rows_rejected, data.file.rows_loaded) == (1, 1)
    assert UsageRowError.objects.filter(source_file=data.file).get().code == "future_date"


def test_unknown_lines_are_kept_aside_and_rematched(line) -> None:
    result = _import(HEADER + "R1,09099998888,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n"
                     "R2,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n")
    assert (result["rows_loaded"], result["rows_unmatched"]) == (1, 1)
    kept = UnmatchedCall.objects.get()
    assert (kept.record_id, kept.msisdn, kept.row_no) == ("R1", "09099998888", 2)
    data = usage_file_import(fileobj=io.BytesIO(f"date,msisdn,iccid,bytes\n2026-05-01,,{make_iccid(4242)},99\n"
                                                .encode()), name="d.csv", now=NOW)
    assert data.file.rows_unmatched == 1

    assert usage_rematch().as_dict() == {"calls_matched": 0, "calls_still_unknown": 1, "data_matched": 0,
                                         "data_still_unknown": 1}
    new = LineFactory(msisdn="09099998888", iccid=make_iccid(4242), tenant=TenantFactory())
    assert usage_rematch().as_dict() == {"calls_matched": 1, "calls_still_unknown": 0, "data_matched": 1,
                                         "data_still_unknown": 0}
    moved = CallRecord.objects.get(record_id="R1")
    assert (moved.line_id, moved.tenant_id, moved.source_file_id) == (new.pk, new.tenant_id, result["id"])
    assert DataUsageDaily.objects.get(line=new).bytes_used == 99
    assert not UnmatchedCall.objects.exists() and not UnmatchedDataUsage.objects.exists()


def test_gzip_files_are_read_by_magic_bytes_and_by_name(line) -> None:
    body = gzip.compress((HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n")
                         .encode())
    result = usage_file_import(fileobj=io.BytesIO(body), name="calls.bin", now=NOW)
    assert result.file.rows_loaded == 1
    body2 = gzip.compress((HEADER + "R2,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n")
                          .encode())
    assert usage_file_import(fileobj=io.BytesIO(body2), name="calls.csv.gz", now=NOW).file.rows_loaded == 1


def test_an_unreadable_file_is_refused_whole() -> None:
    with pytest.raises(DomainError) as info:
        _import("foo,bar\n1,2\n")
    assert info.value.code == ErrorCode.INVALID_USAGE_FILE
    truncated = gzip.compress((HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,,,0,1,,voice\n" * 50)
                              .encode())[:-30]
    with pytest.raises(DomainError):
        usage_file_import(fileobj=io.BytesIO(truncated), name="t.csv.gz", now=NOW)
    assert not UsageFile.objects.exists() and not CallRecord.objects.exists()


def test_kind_must_match_the_header(line) -> None:
    with pytest.raises(DomainError):
        _import(HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,,,0,1,,voice\n", kind="data")


def test_data_usage_by_msisdn_and_iccid_latest_file_wins(line) -> None:
    first = usage_file_import(fileobj=io.BytesIO(
        f"date,msisdn,iccid,bytes\n2026-06-01,09011112222,,100\n2026-06-02,,{line.iccid},200\n".encode()),
        name="d1.csv", now=NOW).file
    assert (first.rows_loaded, first.rows_unmatched) == (2, 0)
    second = usage_file_import(fileobj=io.BytesIO(
        b"date,msisdn,iccid,bytes\n2026-06-01,09011112222,,150\n2026-06-02,09011112222,,200\n"),
        name="d2.csv", now=NOW).file
    assert (second.rows_loaded, second.rows_duplicate) == (1, 1)  # a correction; an identical value
    assert dict(DataUsageDaily.objects.values_list("day", "bytes_used")) == {
        dt.date(2026, 6, 1): 150, dt.date(2026, 6, 2): 200}


def test_the_live_line_gets_a_reissued_numbers_calls(line) -> None:
    line.status = "cancelled"
    line.save()
    live = LineFactory(msisdn="09011112222", tenant=TenantFactory())
    _import(HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n")
    assert CallRecord.objects.get().line_id == live.pk


def test_a_record_id_twice_in_one_file_is_loaded_once(line) -> None:
    row = "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n"
    result = _import(HEADER + row + row.replace("660", "700"))
    assert (result["rows_loaded"], result["rows_duplicate"]) == (1, 1)
    assert CallRecord.objects.get().record_id == "R1"


def test_undecodable_bytes_reject_only_their_row(line) -> None:
    body = (HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n").encode()
    body += b"R2,09011112222,2026-05-01 20:12:21.5,660,0312345678,\x93\x8c\x8b\x9e,,0,1,,voice\n"  # cp932
    result = usage_file_import(fileobj=io.BytesIO(body), name="mixed.csv", now=NOW).file
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert UsageRowError.objects.get().code == "bad_encoding"


def test_records_protect_their_tenant_and_file_through_the_orm(line) -> None:
    """``tenant`` and ``source_file`` have no database constraint (usage.models: the commit's per-row checks);
    Django's ``on_delete=PROTECT`` still refuses to delete what call and data records point at."""
    from django.db.models import ProtectedError

    _import(HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n")
    data = usage_file_import(fileobj=io.BytesIO(b"date,msisdn,iccid,bytes\n2026-06-01,09011112222,,100\n"),
                             name="d.csv", now=NOW).file
    call = CallRecord.objects.get()
    for target, protected in ((call.source_file, call), (data, DataUsageDaily.objects.get()),
                              (line.tenant, call)):
        with pytest.raises(ProtectedError) as caught:
            target.delete()
        assert protected in caught.value.protected_objects


def test_a_file_without_repeated_record_ids_skips_the_deduplication(line, monkeypatch) -> None:
    """Issue 10 §6: the loader notes while staging whether two rows share a record ID; a file without any is
    not deduplicated in the database (no DELETE on SQLite, no failed insert on PostgreSQL)."""
    from kaisen.usage import ingest

    called: list[bool] = []
    monkeypatch.setattr(ingest, "_dedupe_stage", lambda cur: called.append(True))
    rows = "".join(f"R{i},09011112222,2026-05-0{i} 20:12:21.5,660,0312345678,東京,,0,1,,voice\n" for i in (1, 2))
    assert _import(HEADER + rows)["rows_loaded"] == 2
    assert called == []


def test_records_stored_meanwhile_by_another_import_are_stored_once(line, monkeypatch) -> None:
    """PostgreSQL: the insert without ON CONFLICT fails when another import stored some of the file's records
    meanwhile (no repeated ID in the file): it is rolled back to its savepoint and done again with ON CONFLICT,
    and the rollups count each call once."""
    from django.db import IntegrityError, connection

    from kaisen.usage import ingest

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: no concurrent import")
    original = ingest._store_calls
    seen: list[bool] = []

    def racing(cur, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["may_collide"])
        stored = original(cur, **kwargs)
        if len(seen) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")  # as if raced
        return stored

    monkeypatch.setattr(ingest, "_store_calls", racing)
    rows = "".join(f"R{i},09011112222,2026-05-0{i} 20:12:21.5,660,0312345678,東京,,0,1,,voice\n" for i in (1, 2))
    assert _import(HEADER + rows)["rows_loaded"] == 2
    assert seen == [False, True]
    assert CallRecord.objects.count() == 2
    assert sum(UsageRollup.objects.values_list("calls", flat=True)) == 2


def test_sqlite_bulk_load_uses_the_import_cache_and_restores_it(line, settings, monkeypatch) -> None:
    """SQLite: the import runs with KAISEN_SQLITE_IMPORT_CACHE_MB of page cache, and the connection gets its
    own size back afterwards (web requests keep the everyday cache). PostgreSQL has no such pragma."""
    from django.db import connection

    from kaisen.usage import ingest

    if connection.vendor != "sqlite":
        assert _import(HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n")[
            "rows_loaded"] == 1
        return
    settings.KAISEN_SQLITE_IMPORT_CACHE_MB = 12
    seen: list[int] = []
    original = ingest._move_calls

    def spy(cur, **kwargs):  # type: ignore[no-untyped-def]
        cur.execute("PRAGMA cache_size")
        seen.append(cur.fetchone()[0])
        return original(cur, **kwargs)

    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        before = cur.fetchone()[0]
    monkeypatch.setattr(ingest, "_move_calls", spy)
    result = _import(HEADER + "R1,09011112222,2026-05-01 20:12:21.5,660,0312345678,東京,,0,1,,voice\n")
    assert result["rows_loaded"] == 1 and seen == [-12 * 1024]
    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        assert cur.fetchone()[0] == before != -12 * 1024
