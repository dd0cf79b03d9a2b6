"""API schemas every router shares. One class per name: the OpenAPI document keys its components by class
name, so two ``ErrorOut`` classes (or two ``MeOut``) would document one under the other's name (issue 14 c;
tests/test_api_schema_names.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, WithJsonSchema


class ErrorOut(Schema):
    """What every 4xx answers (kaisen.core.errors.DomainError.as_dict; 422 adds ``errors``)."""

    code: str
    message: str
    field: str | None = None
    details: dict | None = None


# --- rules the OpenAPI document states (issue 14: schemathesis ``positive_data_acceptance``) -------------------

def _space_class() -> str:
    """The characters ``str.strip()`` removes, as a regex class body (``\\uXXXX`` escapes: the same in Python's
    ``re``, pydantic's Rust engine and ECMAScript; ``\\s`` is not: Rust's leaves out U+001C..U+001F)."""
    codes = [c for c in range(0x10000) if chr(c).isspace()]
    ranges: list[tuple[int, int]] = []
    for c in codes:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


SPACE = _space_class()


def trimmed_pattern(max_length: int) -> str:
    """A text of 1 to ``max_length`` characters once the spaces around it are trimmed (the services'
    ``(name or "").strip()`` then ``1 <= len(name) <= max_length``). For ``json_schema_extra``: the document
    states the rule and the service refuses any other with its own code and message, as before."""
    return rf"^[{SPACE}]*[^{SPACE}](?:[\s\S]{{0,{max_length - 2}}}[^{SPACE}])?[{SPACE}]*$"


def one_of(values: Iterable[str], refusal: Callable[[str], Exception] | None = None) -> Any:
    """A ``str`` type whose allowed values the document lists (``enum``), for a set built at import time
    (which ``Literal`` cannot take). The service's own check refuses any other value with its own code and
    status, as before; with ``refusal``, the schema refuses it first with that error (where the service would
    accept a variant the list does not show, e.g. with spaces around it)."""
    allowed = tuple(values)
    accepted = frozenset(allowed)
    schema = {"type": "string", "enum": list(allowed)}
    if refusal is None:
        return Annotated[str, WithJsonSchema(schema)]

    def check(value: str) -> str:
        if value not in accepted:
            raise refusal(value)  # not a ValueError: pydantic lets it through to the API's error handler
        return value

    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]
