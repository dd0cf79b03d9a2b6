"""Keyset paging of the line list (M-DL-4 line list, issue #2 "paging that stays fast at 1,000,000 lines").

Property: for any set of lines (numbers missing, start dates missing, many equal sort values) and every
sort the list offers, walking the ``next`` cursors visits every line exactly once, in the order a plain
``ORDER BY key, id`` (nulls last) gives, and walking the ``prev`` cursors back returns the same pages.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.db import transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.paging import SortKey
from kaisen.lines.models import Line, LineStatus
from kaisen.lines.selectors import SORTS, LineFilters, line_list
from tests.factories import LineFactory, PlanFactory, TenantFactory, make_iccid, make_msisdn

DATES = [None, dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2025, 12, 31)]
NUMBERS = [None, make_msisdn(1), make_msisdn(2), make_msisdn(3, "080"), make_msisdn(4, "070")]

row = st.tuples(st.sampled_from(NUMBERS), st.sampled_from(DATES))


def _expected(tenant_id: int, key: SortKey) -> list[int]:
    field = F(key.field)
    order = field.desc(nulls_last=True) if key.descending else field.asc(nulls_last=True)
    return list(Line.objects.filter(tenant_id=tenant_id).order_by(order, "-id" if key.descending else "id")
                .values_list("id", flat=True))


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(rows=st.lists(row, max_size=14), size=st.integers(min_value=1, max_value=5),
       sort=st.sampled_from(sorted(SORTS)))
def test_keyset_paging_visits_every_row_once_in_order_both_ways(rows: list, size: int, sort: str) -> None:
    with transaction.atomic():
        plan = PlanFactory(code="HYP")
        tenant, other = TenantFactory(), TenantFactory()
        # The other tenant's lines interleave by ID and value and must never show up (T-2).
        LineFactory.create_batch(2, tenant=other, plan=plan, msisdn=NUMBERS[1], started_on=None)
        Line.objects.bulk_create([
            Line(tenant=tenant, plan=plan, carrier=plan.carrier, msisdn=number, iccid=make_iccid(900_000 + i),
                 sim_type="data", sim_size="nano", started_on=started,
                 status=LineStatus.ACTIVE if number else LineStatus.NOT_ACTIVATED)
            for i, (number, started) in enumerate(rows)
        ])
        expected = _expected(tenant.pk, SORTS[sort])

        pages: list[list[int]] = []
        cursors: list[str | None] = []
        page = line_list(tenant=tenant, filters=LineFilters(), sort=sort, size=size)
        assert page.prev_cursor is None
        while True:
            ids = [line.pk for line in page.items]
            pages.append(ids)
            cursors.append(page.prev_cursor)
            if page.next_cursor is None:
                break
            assert len(ids) == size, "only the last page may be short"
            assert len(pages) <= len(rows) + 1, "paging does not terminate"
            page = line_list(tenant=tenant, filters=LineFilters(), sort=sort, size=size, cursor=page.next_cursor)
        walked = [pk for ids in pages for pk in ids]
        assert walked == expected
        assert len(set(walked)) == len(walked)

        # Back from the last page with the prev cursors: the same pages, in reverse.
        back = page
        for index in range(len(pages) - 1, 0, -1):
            assert back.prev_cursor is not None, f"page {index} has no prev cursor"
            back = line_list(tenant=tenant, filters=LineFilters(), sort=sort, size=size, cursor=back.prev_cursor)
            assert [line.pk for line in back.items] == pages[index - 1]
        assert back.prev_cursor is None, "the first page reached backwards has no prev cursor"
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_paging_with_filter_and_search(tenant_a) -> None:  # type: ignore[no-untyped-def]
    """M-DL-4: filters and paging combine; the count matches what the cursors walk."""
    LineFactory.create_batch(7, tenant=tenant_a.tenant, status=LineStatus.SUSPENDED)
    seen: list[int] = []
    cursor = None
    while True:
        page = line_list(tenant=tenant_a.tenant, filters=LineFilters(status="suspended"), size=3, cursor=cursor)
        seen += [line.pk for line in page.items]
        assert all(line.status == "suspended" for line in page.items)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == 7


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


TAMPERED = [
    "garbage",
    "!!!!",
    "",
    _b64(["x", 0, "09011112222", 1]),  # unknown direction
    _b64(["a", 7, "09011112222", 1]),  # unknown segment
    _b64(["a", 0, "09011112222", "1"]),  # id not an int
    _b64(["a", 0, "09011112222"]),  # too short
    _b64({"a": 1}),
    _b64(["a", 1, None, 1]),  # segment 1 does not exist for a non-nullable key (iccid)
]


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", [c for c in TAMPERED if c])
def test_tampered_cursor_is_invalid_cursor(tenant_a, cursor: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as info:
        line_list(tenant=tenant_a.tenant, filters=LineFilters(), sort="iccid", cursor=cursor)
    assert info.value.code == ErrorCode.INVALID_CURSOR
    assert 400 <= info.value.http_status < 500


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("started_on", _b64(["a", 0, "not-a-date", 1])),  # a string where a date belongs
        ("started_on", _b64(["a", 0, {"d": "2024-13-45"}, 1])),  # no such date
        ("started_on", _b64(["a", 0, [1, 2], 1])),
        ("started_on", _b64(["a", 0, None, 1])),  # segment 0 always carries a value
        ("msisdn", _b64(["a", 0, [1, 2], 1])),
        ("msisdn", _b64(["b", 0, None, 1])),
        ("iccid", _b64(["a", 0, {"x": 1}, 1])),
    ],
)
def test_cursor_with_wrong_value_type_is_invalid_cursor_not_500(tenant_a, sort: str, cursor: str) -> None:  # type: ignore[no-untyped-def]
    """X-API: a cursor is client input; a well-formed one carrying a value of the wrong type is a 400."""
    response = tenant_a.api().get("/api/v1/lines", {"sort": sort, "cursor": cursor})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_CURSOR"


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=st.text(min_size=1, max_size=60) | st.binary(max_size=60).map(
    lambda b: base64.urlsafe_b64encode(b).decode()))
def test_arbitrary_cursor_never_crashes(tenant_a, cursor: str) -> None:  # type: ignore[no-untyped-def]
    for sort in ("msisdn", "-started_on"):
        try:
            page = line_list(tenant=tenant_a.tenant, filters=LineFilters(), sort=sort, cursor=cursor)
        except DomainError as exc:
            assert exc.code == ErrorCode.INVALID_CURSOR
        else:
            assert all(line.tenant_id == tenant_a.tenant.pk for line in page.items)
