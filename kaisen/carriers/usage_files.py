"""The simulated carrier's usage files: call/SMS detail records and daily data usage (issue 4 §1).

**A simulator, not a carrier.** A real MVNO receives these files from its host carrier; this module
writes files in the same format (the columns of ``kaisen/carriers/usage_columns.py``, which
``kaisen/usage/formats.py`` reads; docs/usage.md) for the demo tenants and the ingest benchmark, so that the
import, rating and statements downstream are real and can be shown.

Realistic enough to look at, deterministic by seed: each line's month is drawn from its own
``random.Random(f"{seed}:{number}:{month}")``, so the same seed gives the same files whatever else
changes, and re-generating a month gives the same carrier record IDs (re-importing is a no-op).

- Voice lines make a few calls a day (business lines: more on weekdays, most between 9:00 and 18:00, a
  few in the evening and at night); SMS lines send messages; data-only lines have no calls.
- The call mix: mobiles (docomo / au / SoftBank / Rakuten networks), fixed lines by area, 050 IP phones,
  0570 Navi Dial, 117 / 171 / 177, 188 / 189, 104 directory assistance (counted), international calls
  (``010`` + country code), an occasional trip abroad (roaming, outgoing and incoming), internal calls to
  the tenant's own lines; durations log-normal around a minute, in tenths of a second.
- Data: each line has a usage profile (a share of its plan's high-speed allowance, unlimited plans count
  as 30 GB) spread over the days with weekday/weekend and day-to-day variation.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kaisen.carriers.usage_columns import CALL_COLUMNS, DATA_COLUMNS
from kaisen.core.calendar import first_of_next_month, month_start

MB = 1024 * 1024

# Hour-of-day weights for business lines (0..23).
HOUR_WEIGHTS = [(str(h), w) for h, w in enumerate(
    [1, 0.5, 0.3, 0.2, 0.2, 0.5, 2, 5, 12, 20, 22, 20, 14, 18, 21, 21, 19, 16, 11, 7, 5, 4, 3, 2])]
FIXED_AREAS = [("03", "東京"), ("06", "大阪"), ("052", "名古屋"), ("011", "札幌"), ("092", "福岡"),
               ("045", "横浜"), ("075", "京都"), ("022", "仙台"), ("082", "広島"), ("098", "那覇")]
MOBILE_NETWORKS = [("docomo", 40), ("au", 30), ("softbank", 25), ("rakuten", 5)]
COUNTRIES = [("1", "アメリカ"), ("82", "韓国"), ("86", "中国"), ("65", "シンガポール"), ("44", "イギリス"),
             ("66", "タイ"), ("63", "フィリピン")]
SPECIAL = [("117", "時報"), ("171", "災害用伝言ダイヤル"), ("177", "天気予報"), ("188", "消費者ホットライン"),
           ("189", "児童相談所虐待対応ダイヤル")]
# (kind, weight) of what a voice call goes to.
CALL_MIX = [("mobile", 42), ("fixed", 30), ("ip", 8), ("navi", 4), ("special", 1.5), ("directory", 1),
            ("international", 2.5), ("internal", 5), ("sms", 6)]


@dataclass(frozen=True)
class SimLine:
    """What the generator needs to know of a line."""

    msisdn: str
    iccid: str
    sim_type: str  # data | sms | voice
    allowance_mb: int | None
    active_from: dt.date
    active_to: dt.date  # inclusive
    tenant_key: int = 0  # lines with the same key are one company (internal calls)


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    months = []
    m = month_start(first)
    while m <= last:
        months.append(m)
        m = first_of_next_month(m)
    return months


def _days(month: dt.date, first: dt.date, last: dt.date) -> Iterator[dt.date]:
    end = first_of_next_month(month)
    day = max(month, first)
    while day < end and day <= last:
        yield day
        day += dt.timedelta(days=1)


_CUMULATIVE: dict[int, tuple[list[str], list[float]]] = {}


def _pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    cached = _CUMULATIVE.get(id(table))
    if cached is None:
        cached = _CUMULATIVE[id(table)] = ([k for k, _ in table], list(itertools.accumulate(w for _, w in table)))
    keys, cum = cached
    return keys[bisect.bisect(cum, rng.random() * cum[-1])]


def _mobile_number(rng: random.Random) -> str:
    return f"{rng.choice(['070', '080', '090'])}{rng.randint(1, 9)}{rng.randint(0, 9_999_999):07d}"


def _duration_ds(rng: random.Random, median_s: float = 60.0) -> int:
    return max(10, min(36_000, int(rng.lognormvariate(math.log(median_s), 1.0) * 10)))


def call_rows(line: SimLine, month: dt.date, *, seed: int, first: dt.date, last: dt.date,
              tenant_numbers: Sequence[str] = (), calls_per_day: float = 2.0) -> Iterator[list[str]]:
    """One line's call/SMS records of ``month`` (days from ``first`` to ``last``), as CSV rows."""
    if line.sim_type == "data":
        return
    rng = random.Random(f"{seed}:{line.msisdn}:{month:%Y%m}")
    sms_only = line.sim_type == "sms"
    busy = rng.lognormvariate(0, 0.6)  # some lines call much more than others
    trip_start = rng.randint(1, 24) if rng.random() < 0.04 else 0  # a business trip abroad this month
    seq = 0
    for day in _days(month, max(first, line.active_from), min(last, line.active_to)):
        weekend = day.weekday() >= 5
        mean = (0.6 if sms_only else calls_per_day) * busy * (0.25 if weekend else 1.0)
        roaming = trip_start and trip_start <= day.day < trip_start + 5
        n = _poisson(rng, mean)
        for _ in range(n):
            seq += 1
            hour = int(_pick(rng, HOUR_WEIGHTS))
            start = dt.datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), rng.randint(0, 59),
                                rng.randint(0, 9) * 100_000)
            kind = "sms" if sms_only else _pick(rng, CALL_MIX)
            network, internal, count, roam, service, area = "", "0", "1", "", "voice", ""
            duration = _duration_ds(rng)
            if kind == "sms":
                service, duration, dest, area = "sms", 0, _mobile_number(rng), "携帯"
                network = _pick(rng, MOBILE_NETWORKS)
            elif kind == "mobile":
                dest, area, network = _mobile_number(rng), "携帯", _pick(rng, MOBILE_NETWORKS)
            elif kind == "internal" and tenant_numbers:
                dest = rng.choice(tenant_numbers)
                area, internal, network = "社内", "1", "docomo"
            elif kind == "ip":
                dest, area = f"050{rng.randint(1000_0000, 9999_9999)}", "IP電話"
            elif kind == "navi":
                dest, area = f"0570{rng.randint(0, 999_999):06d}", "ナビダイヤル"
            elif kind == "special":
                dest, area = rng.choice(SPECIAL)
                duration = _duration_ds(rng, 20)
            elif kind == "directory":
                dest, area, count = "104", "番号案内", "1"
                duration = _duration_ds(rng, 40)
            elif kind == "international":
                code, area = rng.choice(COUNTRIES)
                dest = f"010{code}{rng.randint(10**8, 10**9 - 1)}"
                duration = _duration_ds(rng, 120)
            else:  # fixed line (and internal calls of a lone line)
                prefix, area = rng.choice(FIXED_AREAS)
                dest = prefix + str(rng.randint(10 ** (9 - len(prefix)), 10 ** (10 - len(prefix)) - 1))
            if roaming and service == "voice":
                roam = rng.choice(["out", "out", "in"])
                area = "国際ローミング"
            if start.date() > last or (start + dt.timedelta(seconds=duration / 10)).date() > last:
                continue
            yield [f"SIM-{month:%Y%m}-{line.msisdn}-{seq:05d}", line.msisdn, f"{start:%Y-%m-%d %H:%M:%S}."
                   f"{start.microsecond // 100_000}", str(duration), dest, area, network, internal, count, roam,
                   service]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def data_rows(line: SimLine, month: dt.date, *, seed: int, first: dt.date, last: dt.date) -> Iterator[list[str]]:
    """One line's daily data usage of ``month`` (bytes per day), as CSV rows."""
    rng = random.Random(f"{seed}:{line.msisdn or line.iccid}:{month:%Y%m}:data")
    allowance = (line.allowance_mb or 30 * 1024) * MB
    profile = min(1.3, rng.lognormvariate(math.log(0.45), 0.6))  # share of the allowance used this month
    per_day = allowance * profile / 30
    use_iccid = not line.msisdn or rng.random() < 0.1
    for day in _days(month, max(first, line.active_from), min(last, line.active_to)):
        factor = 0.55 if day.weekday() >= 5 else 1.1
        used = int(per_day * factor * rng.lognormvariate(0, 0.35))
        if rng.random() < 0.03:
            used = 0  # a day the device stayed off
        yield [day.isoformat(), "" if use_iccid else line.msisdn, line.iccid if use_iccid else "", str(used)]


def write_calls(path: Path, lines: Sequence[SimLine], month: dt.date, *, seed: int, first: dt.date,
                last: dt.date, calls_per_day: float = 2.0) -> int:
    """Write one month's call file for ``lines``; returns the number of records."""
    by_tenant: dict[int, list[str]] = {}
    for ln in lines:
        if ln.sim_type == "voice":
            by_tenant.setdefault(ln.tenant_key, []).append(ln.msisdn)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(CALL_COLUMNS)
        for ln in lines:
            peers = [n for n in by_tenant.get(ln.tenant_key, [])[:50] if n != ln.msisdn]
            for row in call_rows(ln, month, seed=seed, first=first, last=last, tenant_numbers=peers,
                                 calls_per_day=calls_per_day):
                out.writerow(row)
                count += 1
    return count


def write_data(path: Path, lines: Sequence[SimLine], month: dt.date, *, seed: int, first: dt.date,
               last: dt.date) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(DATA_COLUMNS)
        for ln in lines:
            for row in data_rows(ln, month, seed=seed, first=first, last=last):
                out.writerow(row)
                count += 1
    return count
