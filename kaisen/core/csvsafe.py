"""CSV files in and out: uploaded files' text, and cells that a spreadsheet will not run as a formula (CSV /
formula injection)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from kaisen.core.errors import DomainError, ErrorCode

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """The cell's text, prefixed with ``'`` when it starts with = + - @ TAB or CR (None → empty)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(data: bytes) -> str:
    """An uploaded CSV file's text: UTF-8 (with or without BOM) or, as Excel saves it in Japan, Shift_JIS
    (cp932). Anything else is ``INVALID_CSV`` on the ``file`` field."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError as exc:
        raise DomainError(ErrorCode.INVALID_CSV, _("The file is neither UTF-8 nor Shift_JIS text."),
                          field="file") from exc
