"""Bounded integers for API input (issue 14 b).

A database ID is a 64-bit signed integer (``BigAutoField``: PostgreSQL ``bigint``, SQLite ``INTEGER``). A
larger number given as an ID used to reach the database and fail there with a 500 (SQLite cannot bind it,
PostgreSQL refuses it for a ``bigint`` column). Every integer an API endpoint takes is bounded in its
schema, so it is refused with ``422 VALIDATION_ERROR`` before any query; a test walks the OpenAPI
document and checks that no integer input is left unbounded (tests/test_api_input_bounds.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

#: The largest value of a database integer column (2^63 - 1).
DB_INT_MAX = 2**63 - 1

#: A database ID in an API path, query or body: 1 to 2^63 - 1.
Id = Annotated[int, Field(ge=1, le=DB_INT_MAX)]

#: Any other integer input whose real range the service checks with its own error (a page size that is
#: clamped, a window of days, a card's expiry): bounded only to what a 64-bit integer holds.
Int64 = Annotated[int, Field(ge=-DB_INT_MAX - 1, le=DB_INT_MAX)]


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
