"""API schemas every router shares. One class per name: the OpenAPI document keys its components by class
name, so two ``ErrorOut`` classes (or two ``MeOut``) would document one under the other's name (issue 14 c;
tests/test_api_schema_names.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, Field, WithJsonSchema


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


def trimmed_optional_pattern(max_length: int) -> str:
    """As ``trimmed_pattern``, empty (or only spaces) allowed too."""
    return rf"^[{SPACE}]*(?:[^{SPACE}](?:[\s\S]{{0,{max_length - 2}}}[^{SPACE}])?)?[{SPACE}]*$"


def trimmed(pattern: str, *, optional: bool = False) -> str:
    """``pattern`` (anchored ``^...$``) with the spaces ``str.strip()`` removes allowed around it; with
    ``optional``, empty (or only spaces) too."""
    return rf"^[{SPACE}]*(?:{pattern[1:-1]}){'?' if optional else ''}[{SPACE}]*$"


def one_line_pattern(max_length: int, *, required: bool = True) -> str:
    """A text on one line (no control character U+0000..U+001F inside) of 1 (0 unless ``required``) to
    ``max_length`` characters once the spaces around it are trimmed."""
    body = rf"[^{SPACE}\u0000-\u001f](?:[^\u0000-\u001f]{{0,{max_length - 2}}}[^{SPACE}\u0000-\u001f])?"
    return rf"^[{SPACE}]*{body if required else '(?:' + body + ')?'}[{SPACE}]*$"


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


#: No NUL character (U+0000): the API refuses one in every input (PostgreSQL cannot hold it in text), the
#: path included; as a JSON Schema pattern (``\uXXXX``: the same in Python, pydantic's engine and ECMAScript).
NO_NUL_PATTERN = r"^[^\u0000]*$"


def refuse_nul(value: str) -> str:
    """The refusal every other input gives a NUL character (``kaisen.api.ObjectBodyParser``): 400
    ``VALIDATION_ERROR``. Raised as a ``DomainError``, which pydantic lets through to the API's handler."""
    if "\x00" in value:
        from django.utils.translation import gettext as _

        from kaisen.core.errors import DomainError, ErrorCode

        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The input holds a character that is not allowed."))
    return value


def path_text(pattern: str = NO_NUL_PATTERN, description: str | None = None) -> Any:
    """A ``str`` path parameter (issue 14: a NUL in a path reached the database; query and body refused it
    already). ``pattern`` is what the document states (it must exclude NUL); the service checks the rest with
    its own code and message, as before; a NUL is refused first, like anywhere else."""
    schema: dict[str, Any] = {"type": "string", "pattern": pattern}
    if description:
        schema["description"] = description
    return Annotated[str, AfterValidator(refuse_nul), WithJsonSchema(schema)]


#: A path parameter that is any text but NUL.
if TYPE_CHECKING:
    PathText = str
else:
    PathText = path_text()

#: An e-mail address as the API takes it: the dot-atom form Django's ``validate_email`` accepts, ASCII only,
#: a top-level domain of letters (the billing contacts' own check), at most 254 characters (the column).
#: The document states it (``pattern``) and the schema enforces it (422 ``VALIDATION_ERROR``), so that a
#: request the document calls valid is one the service's own checks accept (issue 14: schemathesis
#: ``positive_data_acceptance``). email-validator is not a dependency: no ``EmailStr``.
EMAIL_PATTERN = (r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                 r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
EmailText = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN,
                                 description="An e-mail address (ASCII, at most 254 characters).")]
#: The same, or empty (where an empty value clears the address).
OPTIONAL_EMAIL_PATTERN = "^(?:" + EMAIL_PATTERN[1:-1] + ")?$"
OptionalEmailText = Annotated[str, Field(max_length=254, pattern=OPTIONAL_EMAIL_PATTERN,
                                         description="An e-mail address, or empty to clear it.")]
