"""Phone numbers (MSISDN) and SIM serials (ICCID): normalise and validate."""

from __future__ import annotations

import functools
import re

import phonenumbers
from django.utils.translation import gettext_lazy as _

from kaisen.core.errors import DomainError, ErrorCode

# 070/080/090 mobile numbers and 020 M2M/IoT numbers are the ranges a mobile line can hold.
_LINE_NUMBER_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.PAGER}
_SEPARATORS = re.compile(r"[\s\-‐－ー()（）]")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋", "0123456789+")


def msisdn_normalize(raw: str) -> str:
    """Return the national 11-digit form (``09012345678``) of a Japanese mobile number.

    Accepts hyphens, spaces, full-width digits and the ``+81`` form. Raises ``INVALID_PHONE_NUMBER``.
    """
    text = _SEPARATORS.sub("", (raw or "").translate(_FULLWIDTH_DIGITS))
    national = _national(text) if text and re.fullmatch(r"\+?\d{6,15}", text) else None
    if national is None:
        message = _("'%(value)s' is not a Japanese mobile phone number (11 digits such as 090-1234-5678; "
                    "020 for IoT SIMs).")
        raise DomainError(ErrorCode.INVALID_PHONE_NUMBER, message % {"value": raw}, field="msisdn")
    return national


@functools.lru_cache(maxsize=4096)
def _national(text: str) -> str | None:
    """The national form of the digits ``text`` if it is a Japanese mobile line number, else None. Cached: the
    API's lookup by number parses the same few numbers again and again (libphonenumber's parse and checks took
    about a tenth of the request's Python time, issue 11 session 7)."""
    try:
        parsed = phonenumbers.parse(text, "JP")
    except phonenumbers.NumberParseException:
        return None
    if (
        parsed.country_code != 81
        or not phonenumbers.is_valid_number(parsed)
        or phonenumbers.number_type(parsed) not in _LINE_NUMBER_TYPES
    ):
        return None
    national = "0" + str(parsed.national_number)
    return national if len(national) == 11 else None


def msisdn_format(msisdn: str) -> str:
    """``09012345678`` → ``090-1234-5678`` for display."""
    if len(msisdn) == 11 and msisdn.isdigit():
        return f"{msisdn[:3]}-{msisdn[3:7]}-{msisdn[7:]}"
    return msisdn


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit to append to ``digits`` (ITU-T E.118 uses Luhn for the ICCID)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def iccid_normalize(raw: str) -> str:
    """Validate an ICCID: 19 or 20 digits starting with ``89`` whose last digit is the Luhn check digit.

    Raises ``INVALID_ICCID`` with a message saying which part is wrong.
    """
    text = _SEPARATORS.sub("", (raw or "").translate(_FULLWIDTH_DIGITS)).upper().removesuffix("F")
    if not re.fullmatch(r"\d{19,20}", text):
        raise DomainError(
            ErrorCode.INVALID_ICCID,
            _("A SIM serial number (ICCID) is 19 or 20 digits; '%(value)s' is not.") % {"value": raw},
            field="iccid",
        )
    if not text.startswith("89"):
        raise DomainError(
            ErrorCode.INVALID_ICCID,
            _("A SIM serial number (ICCID) starts with 89; '%(value)s' does not.") % {"value": raw},
            field="iccid",
        )
    if luhn_check_digit(text[:-1]) != int(text[-1]):
        raise DomainError(
            ErrorCode.INVALID_ICCID,
            _("The check digit of the SIM serial number '%(value)s' is wrong; please check for a typo.")
            % {"value": raw},
            field="iccid",
        )
    return text


def looks_like_iccid(text: str) -> bool:
    digits = _SEPARATORS.sub("", (text or "").translate(_FULLWIDTH_DIGITS))
    return digits.startswith("89") and len(digits) >= 19
