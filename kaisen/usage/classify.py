"""How a carrier call/SMS record becomes a ``CallType`` (issue 4 §1; M-DL-3, K-4, K-7).

Pure functions, no database: the importer calls them for every row, the tests call them with a table.
The rules, in the order they are applied:

1. SMS records (``service=sms``): ``sms_international`` when sent while roaming or to an international
   number, else ``sms``.
2. Roaming (``roaming=out|in``): ``roaming_out`` (発信) / ``roaming_in`` (着信), whatever the number.
3. International: a destination beginning with ``010`` (the international prefix) or ``+`` — except
   ``+81``, which is a Japanese number written internationally and is classified as the national number.
4. ``104`` directory assistance: counted (``N件`` in K-7), not timed.
5. Other carriers' services — ``188``, ``189`` (M-DL-3: "他社接続サービス通信料"), ``0570`` (Navi Dial) and
   ``0180`` (telephone service by other carriers).
6. ``117``, ``171``, ``177`` and every other special / fixed number: ordinary domestic calls (M-DL-3: "117、171 ：
   Xi通話料に分類").
7. ``050``: IP phone (``IP間呼``).
8. ``070`` / ``080`` / ``090`` / ``020``: mobile; ``mobile_au`` when the carrier reports the au network
   (K-6 has its own au column).
9. Any other national number beginning with ``0``: domestic.

International, roaming and international SMS are tax-exempt (M-DL-1..3: "国際電話、国際ローミング料金は非課税").
A call is billed in the month its END falls in (K-4: "月をまたがって通話された場合は、翌月のご請求"),
in Japan time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from kaisen.usage.models import TAX_EXEMPT_CALL_TYPES, CallType

MOBILE_NETWORKS = frozenset({"docomo", "au", "softbank", "rakuten"})
ROAMING = {"": None, "out": CallType.ROAMING_OUTGOING, "in": CallType.ROAMING_INCOMING}
OTHER_CARRIER_SERVICES = ("188", "189")
OTHER_CARRIER_PREFIXES = ("0570", "0180")
ORDINARY_SPECIAL_NUMBERS = frozenset({"117", "171", "177"})
DIRECTORY_ASSISTANCE = "104"
MOBILE_PREFIXES = ("070", "080", "090", "020")
_DESTINATION = re.compile(r"^\+?[0-9#*]{1,31}$")


class ClassifyError(ValueError):
    """The record cannot be classified; ``code`` names why (written to the import's error report)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Classified:
    call_type: CallType
    tax_exempt: bool
    destination: str  # the destination as stored (hyphens and spaces removed)


def normalise_destination(raw: str) -> str:
    """Digits (and a leading ``+``, ``#``, ``*``) only: ``03-1234-5678`` → ``0312345678``."""
    return re.sub(r"[\s\-()（）‐－]", "", raw)


def classify(*, destination: str, service: str = "voice", roaming: str = "", network: str = "") -> Classified:
    """The call type and tax class of one record (rules in the module docstring)."""
    number = normalise_destination(destination)
    if not number or not _DESTINATION.match(number):
        raise ClassifyError("bad_destination", f"destination number {destination!r} is not a phone number")
    if roaming not in ROAMING:
        raise ClassifyError("bad_roaming", f"roaming must be empty, 'out' or 'in', not {roaming!r}")
    if network and network not in MOBILE_NETWORKS:
        raise ClassifyError("bad_network",
                            f"network must be one of {sorted(MOBILE_NETWORKS)} or empty, not {network!r}")
    national = "0" + number[3:] if number.startswith("+81") else number
    international = national.startswith(("+", "010"))
    call_type: CallType
    if service == "sms":
        call_type = CallType.SMS_INTERNATIONAL if roaming or international else CallType.SMS
    elif service != "voice":
        raise ClassifyError("bad_service", f"service must be 'voice' or 'sms', not {service!r}")
    elif roaming:
        call_type = ROAMING[roaming]  # type: ignore[assignment]
    elif international:
        call_type = CallType.INTERNATIONAL
    elif national == DIRECTORY_ASSISTANCE:
        call_type = CallType.DIRECTORY_ASSISTANCE
    elif national in OTHER_CARRIER_SERVICES or national.startswith(OTHER_CARRIER_PREFIXES):
        call_type = CallType.OTHER_CARRIER_SERVICE
    elif national in ORDINARY_SPECIAL_NUMBERS:
        call_type = CallType.DOMESTIC
    elif national.startswith("050"):
        call_type = CallType.IP
    elif national.startswith(MOBILE_PREFIXES):
        call_type = CallType.MOBILE_AU if network == "au" else CallType.MOBILE
    elif national.startswith("0") or national.isdigit():
        call_type = CallType.DOMESTIC
    else:
        raise ClassifyError("bad_destination", f"destination number {destination!r} is not a phone number")
    return Classified(call_type=call_type, tax_exempt=call_type in TAX_EXEMPT_CALL_TYPES, destination=number)


def billing_month(*, started_at: dt.datetime, duration_ds: int, tz: dt.tzinfo) -> dt.date:
    """The first day of the month the call ENDS in (K-4), in ``tz`` (Japan time).

    The end is the call's last instant: a call that ends exactly at 00:00:00.0 on the 1st was over before
    the new month began and stays in its month."""
    last = started_at + dt.timedelta(microseconds=duration_ds * 100_000 - (1 if duration_ds > 0 else 0))
    end = last.astimezone(tz)
    return end.date().replace(day=1)
