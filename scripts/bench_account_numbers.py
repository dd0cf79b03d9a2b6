"""K-2 benchmark: one phone-number page with NEXT / BACK among N lines of one tenant (default 1,000,000).

Run on a throwaway database:  KAISEN_DATA_DIR=/tmp/k2 python scripts/bench_account_numbers.py [N]
(or with DATABASE_URL for PostgreSQL). It creates the tables, one tenant with N lines made by the demo's line
generator, then times ``number_detail`` (the selector behind /account/numbers/<id>/ and the API) at the first,
the middle and the last number, and prints the figures as JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from kaisen.account.selectors import number_detail  # noqa: E402
from kaisen.accounts.models import User  # noqa: E402
from kaisen.core import clock  # noqa: E402
from kaisen.demo import _ensure_plans, _LineFactory, _write_lines  # noqa: E402
from kaisen.lines.models import Line  # noqa: E402
from kaisen.tenancy.models import Tenant  # noqa: E402


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(public_id="OP9999999901").first() or Tenant.objects.create(
        public_id="OP9999999901", legal_name="K-2 bench", contract_code="BENCH-K2", contact_email="b@example.jp",
        notification_email="b@example.jp")
    root = User.objects.filter(tenant=tenant, username="bench_root").first() or User.objects.create(
        tenant=tenant, username="bench_root", is_root=True)
    have = Line.objects.filter(tenant=tenant).count()
    t0 = time.perf_counter()
    if have < n:
        factory = _LineFactory(4242, clock.today_jst(), _ensure_plans())
        _write_lines(factory.row(i, tenant.pk) for i in range(have, n))
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    created = time.perf_counter() - t0
    ids = list(Line.objects.filter(tenant=tenant, msisdn__isnull=False).order_by("msisdn", "id")
               .values_list("id", flat=True)[:1])
    last = (Line.objects.filter(tenant=tenant, msisdn__isnull=False).order_by("-msisdn", "-id")
            .values_list("id", flat=True).first())
    first = number_detail(user=root)
    middle = Line.objects.filter(tenant=tenant, msisdn__isnull=False).order_by("msisdn", "id").values_list(
        "id", flat=True)[Line.objects.filter(tenant=tenant).count() // 2]

    def timed(line_id: int | None) -> float:
        times = []
        for _ in range(21):
            s = time.perf_counter()
            number_detail(user=root, line_id=line_id)
            times.append(time.perf_counter() - s)
        return round(statistics.median(times) * 1000, 2)

    out = {"database": connection.vendor, "lines": Line.objects.filter(tenant=tenant).count(),
           "created_seconds": round(created, 1), "first_ms": timed(None), "by_id_first_ms": timed(ids[0]),
           "middle_ms": timed(middle), "last_ms": timed(last),
           "first_has_back": first.prev_id is not None, "last_has_next": number_detail(user=root, line_id=last).next_id
           is not None}
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
