"""Keyset ("cursor") paging: every page costs the same, the 1st or the 1,000th.

A sort key may be nullable. Rows are then read in two segments: the rows with a value, ordered by
(key, id), and after them the rows without one, ordered by id. Each segment is a plain index range
scan on both SQLite and PostgreSQL, and a page that crosses from one to the other issues two queries.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from kaisen.core.errors import DomainError, ErrorCode

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False
    nullable: bool = False


@dataclass
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None
    prev_cursor: str | None


def _encode(direction: str, segment: int, value: Any, pk: int) -> str:
    if isinstance(value, dt.date):
        value = {"d": value.isoformat()}
    raw = json.dumps([direction, segment, value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, int, Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        direction, segment, value, pk = json.loads(raw)
        if isinstance(value, dict):
            value = dt.date.fromisoformat(value["d"])
        if direction not in ("a", "b") or segment not in (0, 1) or not isinstance(pk, int):
            raise ValueError(cursor)
        return direction, segment, value, pk
    except (ValueError, TypeError, KeyError, json.JSONDecodeError) as exc:
        raise DomainError(ErrorCode.INVALID_CURSOR, _("The page cursor is not valid; start again from the first page."),
                          field="cursor") from exc


def _segment_qs(qs: QuerySet[M], key: SortKey, segment: int, *, reverse: bool) -> QuerySet[M]:
    desc = key.descending != reverse
    id_order = "-id" if desc else "id"
    if segment == 0:
        if key.nullable:
            qs = qs.filter(**{f"{key.field}__isnull": False})
        return qs.order_by(f"-{key.field}" if desc else key.field, id_order)
    return qs.filter(**{f"{key.field}__isnull": True}).order_by(id_order)


def _after(key: SortKey, segment: int, value: Any, pk: int, *, reverse: bool) -> Q:
    """Rows strictly after (value, pk) inside ``segment`` in the (possibly reversed) order."""
    desc = key.descending != reverse
    op = "lt" if desc else "gt"
    if segment == 0:
        # `key >= v AND (key > v OR id > pk)`: the first term is an index bound on both databases; the
        # plain `key > v OR (key = v AND id > pk)` is not, and would scan every row before the page.
        bound = Q(**{f"{key.field}__{op}e": value})
        return bound & (Q(**{f"{key.field}__{op}": value}) | Q(**{f"id__{op}": pk}))
    return Q(**{f"id__{op}": pk})


def _cursor_value(qs: QuerySet[M], key: SortKey, value: Any) -> Any:
    """The cursor's sort value as the field's Python type; a cursor is client input and may be forged."""
    try:
        if value is None or isinstance(value, list | dict):
            raise ValueError(value)
        field = cast(models.Field, qs.model._meta.get_field(key.field))
        return field.to_python(value)
    except (ValidationError, ValueError, TypeError) as exc:
        raise DomainError(ErrorCode.INVALID_CURSOR, _("The page cursor is not valid; start again from the first page."),
                          field="cursor") from exc


def keyset_page(qs: QuerySet[M], *, key: SortKey, size: int, cursor: str | None = None) -> Page[M]:
    segments = [0, 1] if key.nullable else [0]
    reverse = False
    start_segment, position = segments[0], None
    if cursor:
        direction, start_segment, value, pk = _decode(cursor)
        if start_segment not in segments:
            raise DomainError(ErrorCode.INVALID_CURSOR,
                              _("The page cursor is not valid; start again from the first page."), field="cursor")
        if start_segment == 0:
            value = _cursor_value(qs, key, value)
        reverse = direction == "b"
        position = (value, pk)
    order = segments[::-1] if reverse else segments
    order = order[order.index(start_segment):]

    rows: list[tuple[int, M]] = []
    for seg in order:
        part = _segment_qs(qs, key, seg, reverse=reverse)
        if position is not None and seg == start_segment:
            part = part.filter(_after(key, seg, position[0], position[1], reverse=reverse))
        need = size + 1 - len(rows)
        rows.extend((seg, obj) for obj in part[:need])
        if len(rows) > size:
            break
    has_more = len(rows) > size
    rows = rows[:size]
    if reverse:
        rows.reverse()

    def cur(direction: str, seg: int, obj: M) -> str:
        return _encode(direction, seg, getattr(obj, key.field) if seg == 0 else None, obj.pk)

    items = [obj for _, obj in rows]
    if not rows:
        return Page(items=[], next_cursor=None, prev_cursor=None)
    first, last = rows[0], rows[-1]
    next_cursor: str | None
    prev_cursor: str | None
    if reverse:
        next_cursor = cur("a", *last)
        prev_cursor = cur("b", *first) if has_more else None
    else:
        next_cursor = cur("a", *last) if has_more else None
        prev_cursor = cur("b", *first) if cursor else None
    return Page(items=items, next_cursor=next_cursor, prev_cursor=prev_cursor)


def keyset_position(qs: QuerySet[M], *, key: SortKey, item: M) -> int:
    """How many rows of ``qs`` come before ``item`` in the order ``keyset_page`` walks (non-null sort values
    first, then the nulls by id): the page's offset, for "51–100 / 1,650" (issue 14)."""
    value = getattr(item, key.field)
    if key.nullable and value is None:
        non_null = qs.filter(**{f"{key.field}__isnull": False}).count()
        nulls = qs.filter(**{f"{key.field}__isnull": True})
        return non_null + nulls.filter(_after(key, 1, None, item.pk, reverse=True)).count()
    segment = qs.filter(**{f"{key.field}__isnull": False}) if key.nullable else qs
    return segment.filter(_after(key, 0, value, item.pk, reverse=True)).count()
