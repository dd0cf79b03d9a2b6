"""Bounded integers for API input (issue 14 b).

A database ID is a 64-bit signed integer (``BigAutoField``: PostgreSQL ``bigint``, SQLite ``INTEGER``). A
larger number given as an ID used to reach the database and fail there with a 500 (SQLite cannot bind it,
PostgreSQL refuses it for a ``bigint`` column). Every integer an API endpoint takes is bounded in its
schema, so it is refused with ``422 VALIDATION_ERROR`` before any query; a test walks the OpenAPI
document and checks that no integer input is left unbounded (tests/test_api_input_bounds.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

#: The largest value of a database integer column (2^63 - 1).
DB_INT_MAX = 2**63 - 1

#: A database ID in an API path, query or body: 1 to 2^63 - 1.
Id = Annotated[int, Field(ge=1, le=DB_INT_MAX)]

#: Any other integer input whose real range the service checks with its own error (a page size that is
#: clamped, a window of days, a card's expiry): bounded only to what a 64-bit integer holds.
Int64 = Annotated[int, Field(ge=-DB_INT_MAX - 1, le=DB_INT_MAX)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """A date given as anything but ``YYYY-MM-DD`` is refused: pydantic would otherwise read a number (``0``,
    ``"0"``) as seconds since 1970 and answer for 1 January 1970 (issue 14: schemathesis, "invalid input
    accepted"). A ``date`` object (a default) passes."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("Input should be a date in the format YYYY-MM-DD")
    if isinstance(value, (bool, int, float)):
        raise ValueError("Input should be a date in the format YYYY-MM-DD")
    return value


#: A month ``YYYY-MM`` that exists (year 0001-9999, month 01-12), as a JSON Schema / pydantic pattern.
MONTH_PATTERN = r"^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])$"
#: The same, or empty (the current month), spaces around allowed: what ``parse_month`` reads.
OPTIONAL_MONTH_PATTERN = r"^(\s*([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])\s*)?$"

#: A date in an API query or body: only ``YYYY-MM-DD`` (the document's ``format: date``).
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _in_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value


#: A date-time in an API body, held in UTC: Python takes UTC offsets up to ±23:59, PostgreSQL only to
#: ±15:59, so ``2205-01-11T04:41:58-21:01`` answered 500 there (issue 14, the 30-example run on PostgreSQL).
UtcDateTime = Annotated[dt.datetime, AfterValidator(_in_utc)]


def as_id(value: Any) -> int | None:
    """``value`` as a database ID (an int, or a string of ASCII digits) when it can be one, else None:
    a reference that is no possible ID is then looked up by name or answered "not found"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            return None
        value = int(text)
    if isinstance(value, int) and 1 <= value <= DB_INT_MAX:
        return value
    return None
