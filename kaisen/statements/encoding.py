"""Text → bytes for the statement files: UTF-8, or Shift-JIS as Windows writes it (cp932).

cp932 cannot encode every character a database may hold (``𠮷`` outside the BMP, emoji, some symbols that
Unicode has twice). A statement never fails because of one: the codec error handler ``kaisen-cp932``
replaces each character cp932 cannot encode, in this order:

1. a known mapping (``KNOWN``): the code points Windows and the JIS standard disagree on (``〜`` U+301C
   WAVE DASH → ``～`` U+FF5E, ``−`` U+2212 → ``－``, ``‖`` → ``∥``, ``—`` U+2014 → ``―`` U+2015, ``¢ £ ¬``
   → their full-width forms) and well-known variant kanji (``𠮷`` → ``吉``, ``髙`` is in cp932 already);
2. its NFKC normal form, when that encodes (``ｶﾞ``-style compatibility forms, ``㌔`` …; ``①`` is *in*
   cp932 and is never touched);
3. otherwise ``〓`` (U+3013 GETA MARK, the traditional Japanese "character missing" sign), one per
   character.

Only characters that fail take this path, so the normal text is encoded at C speed. UTF-8 files carry
every character unchanged. Both files have no byte-order mark.
"""

from __future__ import annotations

import codecs
import unicodedata

UTF8 = "utf-8"
#: UTF-8 that starts with a byte-order mark (EF BB BF): Excel on Windows opens it as UTF-8 (without the mark
#: it guesses Shift-JIS and garbles the Japanese), and no character is lost as in cp932.
UTF8_BOM = "utf-8-sig"
CP932 = "cp932"
ENCODINGS = (UTF8, UTF8_BOM, CP932)
BOM = codecs.BOM_UTF8
REPLACEMENT = "〓"
ERROR_HANDLER = "kaisen-cp932"

#: Characters cp932 lacks, with the cp932 character a Japanese reader expects instead.
KNOWN: dict[str, str] = {
    "\u301c": "\uff5e",  # 〜 WAVE DASH → ～
    "\u2212": "\uff0d",  # − MINUS SIGN → －
    "\u2016": "\u2225",  # ‖ DOUBLE VERTICAL LINE → ∥
    "\u2014": "\u2015",  # — EM DASH → ―
    "\u00a2": "\uffe0",  # ¢ → ￠
    "\u00a3": "\uffe1",  # £ → ￡
    "\u00ac": "\uffe2",  # ¬ → ￢
    "\u00a6": "\uffe4",  # ¦ → ￤
    "\U00020bb7": "\u5409",  # 𠮷 (tsuchi-yoshi) → 吉
}


def _replacement(char: str) -> str:
    mapped = KNOWN.get(char)
    if mapped is not None:
        return mapped
    normal = unicodedata.normalize("NFKC", char)
    if normal != char:
        try:
            normal.encode(CP932)
            return normal
        except UnicodeEncodeError:
            pass
    return REPLACEMENT


def _handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(_replacement(ch) for ch in bad), exc.end


codecs.register_error(ERROR_HANDLER, _handler)


def encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding`` (``utf-8``, ``utf-8-sig`` or ``cp932``); never raises for a character cp932
    lacks. The byte-order mark of ``utf-8-sig`` is not added here: the writers put it once, at the start of
    the file (``preamble``), whereas ``text`` may be any chunk of it."""
    if encoding == CP932:
        return text.encode(CP932, errors=ERROR_HANDLER)
    return text.encode(UTF8)


def preamble(encoding: str) -> bytes:
    """The bytes a file in ``encoding`` starts with: the BOM for ``utf-8-sig``, nothing otherwise."""
    return BOM if encoding == UTF8_BOM else b""
