"""The one place business rules read the time from (tests move it with ``time-machine``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

JST = ZoneInfo("Asia/Tokyo")


def now() -> dt.datetime:
    """Aware current time."""
    return timezone.now()


def now_jst() -> dt.datetime:
    return now().astimezone(JST)


def today_jst() -> dt.date:
    return now_jst().date()
