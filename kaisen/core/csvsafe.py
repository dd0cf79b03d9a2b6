"""CSV cells that a spreadsheet will not run as a formula (CSV / formula injection)."""

from __future__ import annotations

from typing import Any

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """The cell's text, prefixed with ``'`` when it starts with = + - @ TAB or CR (None → empty)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
