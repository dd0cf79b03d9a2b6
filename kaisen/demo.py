"""Demo data: three customer companies, their users, a plan catalogue and N lines.

Deterministic: the same ``seed`` and ``today`` give the same rows. Lines are spread 60/30/10 over the
three tenants, over docomo, SoftBank and au, every status, SIM type and size, with unactivated OTA
SIMs (a temporary number on docomo, no number on SoftBank) as the line list describes them (M-DL-4).
Numbers are in the real mobile ranges (070/080/090, and 020 for IoT data SIMs) and every ICCID carries
a valid Luhn check digit.

Lines are written in bulk (PostgreSQL ``COPY``, SQLite ``executemany`` in one transaction), so
``--lines 1000000`` takes about a minute, not an hour.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from kaisen.accounts.models import User
from kaisen.accounts.services import user_create
from kaisen.audit.services import audit_record
from kaisen.carriers.models import Carrier, Coverage
from kaisen.core import clock
from kaisen.core.numbers import luhn_check_digit
from kaisen.lines.history import line_history_open_missing
from kaisen.lines.models import Line, LinePeriodReason, LineStatus, Plan, PlanChangeRule, SimSize, SimType
from kaisen.tenancy.models import Tenant
from kaisen.tenancy.services import tenant_create

DEFAULT_LINES = 3000
DEFAULT_SEED = 20261122

PLANS: list[dict[str, Any]] = [
    # code, Japanese name, English name, carrier, allowance MB, data cap selectable, fee, change rule
    dict(code="D-DATA-3G", name="ドコモ データ 3GB", name_en="docomo Data 3 GB", carrier=Carrier.DOCOMO,
         data_allowance_mb=3072, has_data_cap=False, monthly_fee=880),
    dict(code="D-DATA-20G", name="ドコモ データ 20GB", name_en="docomo Data 20 GB", carrier=Carrier.DOCOMO,
         data_allowance_mb=20480, has_data_cap=False, monthly_fee=1980),
    dict(code="D-IOT-CAP", name="ドコモ IoT 上限設定プラン", name_en="docomo IoT capped", carrier=Carrier.DOCOMO,
         data_allowance_mb=1024, has_data_cap=True, monthly_fee=330),
    dict(code="D-VOICE-10G", name="ドコモ 音声 10GB", name_en="docomo Voice 10 GB", carrier=Carrier.DOCOMO,
         data_allowance_mb=10240, has_data_cap=False, monthly_fee=2310, change_rule=PlanChangeRule.ALL_NEXT_MONTH),
    dict(code="S-DATA-5G", name="ソフトバンク データ 5GB", name_en="SoftBank Data 5 GB", carrier=Carrier.SOFTBANK,
         data_allowance_mb=5120, has_data_cap=False, monthly_fee=1100),
    dict(code="S-IOT-CAP", name="ソフトバンク IoT 上限設定プラン", name_en="SoftBank IoT capped",
         carrier=Carrier.SOFTBANK, data_allowance_mb=500, has_data_cap=True, monthly_fee=300),
    dict(code="S-VOICE-3G", name="ソフトバンク 音声 3GB", name_en="SoftBank Voice 3 GB", carrier=Carrier.SOFTBANK,
         data_allowance_mb=3072, has_data_cap=False, monthly_fee=1650, change_rule=PlanChangeRule.ALL_NEXT_MONTH),
    dict(code="A-DATA-10G", name="au データ 10GB", name_en="au Data 10 GB", carrier=Carrier.AU,
         data_allowance_mb=10240, has_data_cap=False, monthly_fee=1540),
    dict(code="A-VOICE-UNL", name="au 音声 かけ放題", name_en="au Voice unlimited calls", carrier=Carrier.AU,
         data_allowance_mb=None, has_data_cap=False, monthly_fee=3300, change_rule=PlanChangeRule.ALL_NEXT_MONTH),
]

# Fictional companies; contract codes and operator IDs are fixed so the README can list them.
TENANTS: list[dict[str, Any]] = [
    dict(public_id="OP0123456789", legal_name="みなと物流株式会社",
         legal_name_kana="ミナトブツリュウ",
         contract_code="KC-2019-00412", contact_name="佐藤 健一",
         contact_email="it-admin@minato-butsuryu.example.jp",
         contact_phone="03-5555-0142", notification_email="line-notice@minato-butsuryu.example.jp",
         coverage_japan=True, coverage_global=True, share=0.55),
    dict(public_id="OP2048163264", legal_name="東和メディカルサービス株式会社",
         legal_name_kana="トウワメディカルサービス",
         contract_code="KC-2021-01877", contact_name="鈴木 美香", contact_email="soumu@towa-medical.example.jp",
         contact_phone="06-5555-0718", notification_email="mobile@towa-medical.example.jp",
         coverage_japan=True, coverage_global=False, share=0.3),
    dict(public_id="OP5120003387", legal_name="さくらアグリテック株式会社", legal_name_kana="サクラアグリテック",
         contract_code="KC-2023-03350", contact_name="高橋 大輔", contact_email="admin@sakura-agritech.example.jp",
         contact_phone="011-555-0931", notification_email="iot-ops@sakura-agritech.example.jp",
         coverage_japan=True, coverage_global=False, share=0.1),
    # A second account (operator ID) of みなと物流, for its Kansai centre: its bills are combined into the
    # first account's invoice (S-BILL-5, seed 001 §3.4.3; set up by kaisen.billing.demo).
    dict(public_id="OP3141592653", legal_name="みなと物流株式会社", legal_name_kana="ミナトブツリュウ",
         contract_code="KC-2024-04120", contact_name="中村 陽子", contact_email="kansai-it@minato-butsuryu.example.jp",
         contact_phone="06-5555-0390", notification_email="kansai-line@minato-butsuryu.example.jp",
         coverage_japan=True, coverage_global=False, share=0.05),
]

USERS: list[dict[str, Any]] = [
    dict(username="kanri_root", display_name="管理者", is_root=True),
    dict(username="tanaka_ops", display_name="田中 一郎", is_root=False),
]
STAFF_USERNAME = "operator_admin"

_WORDS = ["sakura", "fuji", "kaede", "momiji", "tsubaki", "yuzu", "hinoki", "ume", "kiri", "take"]


@dataclass
class DemoResult:
    tenants: list[dict[str, Any]] = field(default_factory=list)
    staff: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    seconds: float = 0.0
    created: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "lines": self.lines, "seconds": round(self.seconds, 2),
                "tenants": self.tenants, "staff": self.staff, "login_url": "http://127.0.0.1:8000/login/",
                "admin_url": "http://127.0.0.1:8000/admin/"}


def demo_password(seed: int, who: str) -> str:
    """A readable, deterministic demo password (demo only; printed by ``kaisen demo``)."""
    rng = random.Random(f"{seed}:{who}")
    return f"{rng.choice(_WORDS).capitalize()}-{rng.randint(1000, 9999)}-{rng.choice(_WORDS)}"


def _credentials(seed: int) -> DemoResult:
    result = DemoResult()
    for t in TENANTS:
        result.tenants.append({
            "operator_id": t["public_id"], "legal_name": t["legal_name"],
            "users": [{"username": u["username"], "password": demo_password(seed, f"{t['public_id']}:{u['username']}"),
                       "root": u["is_root"]} for u in USERS],
        })
    result.staff = {"username": STAFF_USERNAME, "password": demo_password(seed, STAFF_USERNAME)}
    return result


def demo_exists() -> bool:
    return Tenant.objects.filter(public_id=TENANTS[0]["public_id"]).exists()


def demo_delete() -> None:
    """Empty the demo tenants for ``--reset``: their lines, orders, bulk jobs, mail outbox, API keys and
    tokens go; the tenant and user rows stay and are re-used by ``demo_create``.

    Audit entries are never deleted (X-AUDIT: the database refuses it), and they reference their tenant
    and user (PROTECT), so a reset keeps those rows — under the same IDs — and the history of the old demo
    data stays readable in the audit log, followed by a ``demo.reset`` entry.
    """
    from kaisen.accounts.models import ApiKey, ApiToken
    from kaisen.notifications.models import OutboxMessage
    from kaisen.procedures.models import BulkJob, Order

    ids = [t["public_id"] for t in TENANTS]
    with transaction.atomic():
        tenants = Tenant.objects.filter(public_id__in=ids)
        OutboxMessage.objects.filter(tenant__in=tenants).delete()
        from kaisen.access.demo import demo_access_delete

        demo_access_delete(tenants=tenants)  # approval requests reference the orders and lines
        Order.objects.filter(tenant__in=tenants).delete()
        BulkJob.objects.filter(tenant__in=tenants).delete()
        ApiToken.objects.filter(tenant__in=tenants).delete()
        ApiKey.objects.filter(tenant__in=tenants).delete()
        from kaisen.goods.models import GoodsOrder, Quote, StatementPayer

        GoodsOrder.objects.filter(tenant__in=tenants).delete()  # SIM and device orders (issue 12)
        Quote.objects.filter(tenant__in=tenants).delete()
        StatementPayer.objects.filter(tenant__in=tenants).delete()
        from kaisen.payments.demo import demo_payments_delete

        demo_payments_delete(tenants=tenants)  # payments reference the invoices
        from kaisen.billing.demo import demo_billing_delete

        demo_billing_delete(tenants=tenants)  # invoice items reference the lines
        from kaisen.usage.demo import demo_usage_delete

        demo_usage_delete(tenants=tenants)  # usage rows reference the lines
        from kaisen.statements.demo import demo_statements_delete

        demo_statements_delete(tenants=tenants)  # generated statements and their files
        from kaisen.account.demo import demo_account_delete

        demo_account_delete(tenants=tenants)  # dial-in numbers and SIM transfers reference the lines
        Line.objects.filter(tenant__in=tenants).delete()
        for tenant in tenants:
            audit_record(action="demo.reset", tenant=tenant, actor="kaisen demo --reset")


def _demo_tenant(fields: dict[str, Any]) -> Tenant:
    tenant = Tenant.objects.filter(public_id=fields["public_id"]).first()
    if tenant is None:
        return tenant_create(**fields)
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.is_active = True
    tenant.save()
    return tenant


def _demo_user(tenant: Tenant | None, username: str, password: str, **fields: Any) -> User:
    user = User.objects.filter(tenant=tenant, username=username).first()
    if user is None:
        return user_create(tenant=tenant, username=username, password=password, **fields)
    for name, value in fields.items():
        setattr(user, name, value)
    user.is_active = True
    user.failed_login_count = 0
    user.set_password(password)
    user.save()
    return user


def _ensure_plans() -> dict[str, Plan]:
    plans = {}
    for spec in PLANS:
        defaults = {k: v for k, v in spec.items() if k != "code"}
        defaults.setdefault("coverage", Coverage.JAPAN)
        plan, _ = Plan.objects.update_or_create(code=spec["code"], defaults=defaults)
        plans[plan.code] = plan
    return plans


def _split(total: int) -> list[int]:
    counts = [int(total * t["share"]) for t in TENANTS]
    counts[0] += total - sum(counts)
    return counts


def _iccid(carrier_digit: int, serial: int) -> str:
    body = f"8981{carrier_digit}0{serial:012d}"  # 18 digits: 89 + 81 (Japan) + issuer + serial
    return body + str(luhn_check_digit(body))


class _LineFactory:
    """Builds line rows as plain tuples, in the column order of ``COLUMNS``."""

    COLUMNS = (
        "tenant_id", "msisdn", "msisdn_is_temporary", "iccid", "product_code", "plan_id", "carrier", "sim_type",
        "sim_size", "is_ota", "shipped_on", "started_on", "scheduled_end_on", "status", "voice_options",
        "data_cap_mb", "created_at", "updated_at", "mnp_port_in_pending", "mnp_port_in_expires_on",
        "mnp_reservation_number", "mnp_reservation_expires_on",
    )

    def __init__(self, seed: int, today: dt.date, plans: dict[str, Plan]) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.now = timezone.now()
        self.by_carrier: dict[str, list[Plan]] = {}
        for plan in plans.values():
            self.by_carrier.setdefault(plan.carrier, []).append(plan)
        # Phone-number suffixes walk a permutation of 10**7..10**8-1 (the 3rd digit of a mobile number is
        # 1-9), so no two lines of the demo share a number, whatever N is.
        self.span = 9 * 10**7
        self.stride = 7_919_357  # coprime with 9 * 10**7
        self.offset = self.rng.randrange(self.span)

    def _msisdn(self, i: int, prefix: str) -> str:
        return prefix + str(10**7 + (self.offset + i * self.stride) % self.span)

    def row(self, i: int, tenant_id: int) -> tuple[Any, ...]:
        rng = self.rng
        carrier = rng.choices([Carrier.DOCOMO, Carrier.SOFTBANK, Carrier.AU], weights=[50, 30, 20])[0]
        sim_type = rng.choices([SimType.DATA, SimType.SMS, SimType.VOICE], weights=[60, 15, 25])[0]
        plans = [p for p in self.by_carrier[carrier]
                 if ("VOICE" in p.code) == (sim_type == SimType.VOICE)] or self.by_carrier[carrier]
        plan = rng.choice(plans)
        multi_ok = sim_type == SimType.DATA or carrier != Carrier.SOFTBANK
        sim_size = rng.choices(
            [SimSize.STANDARD, SimSize.MICRO, SimSize.NANO, SimSize.MULTI],
            weights=[5, 10, 55, 30 if multi_ok else 0],
        )[0]
        status = rng.choices(
            [LineStatus.ACTIVE, LineStatus.SUSPENDED, LineStatus.NOT_ACTIVATED, LineStatus.CANCELLED],
            weights=[80, 5, 8, 7],
        )[0]
        is_ota = (status == LineStatus.NOT_ACTIVATED and carrier in (Carrier.DOCOMO, Carrier.SOFTBANK)
                  and rng.random() < 0.5)
        prefix = "020" if sim_type == SimType.DATA and rng.random() < 0.3 else rng.choice(["070", "080", "090"])
        msisdn: str | None = self._msisdn(i, prefix)
        temporary = False
        if status == LineStatus.NOT_ACTIVATED and is_ota:
            if carrier == Carrier.SOFTBANK:
                msisdn = None  # an unactivated SoftBank OTA SIM has no number yet (M-DL-4)
            else:
                temporary = True  # docomo: a temporary number that changes at activation
        shipped: dt.date | None = self.today - dt.timedelta(days=rng.randint(3, 3 * 365))
        assert shipped is not None
        started: dt.date | None = shipped + dt.timedelta(days=rng.randint(1, 14))
        end: dt.date | None = None
        port_in = False
        port_in_expires: dt.date | None = None
        if status == LineStatus.NOT_ACTIVATED:
            started = None
            shipped = self.today - dt.timedelta(days=rng.randint(0, 30))
            if carrier == Carrier.DOCOMO and not is_ota and rng.random() < 0.4:
                # A half-black SIM for an MNP port-in (M-MNP-1): the number is the ported one; some SIMs
                # have not shipped yet; the reservation number expires within about two weeks.
                port_in = True
                port_in_expires = self.today + dt.timedelta(days=rng.randint(1, 14))
                if rng.random() < 0.25:
                    shipped = None
        elif status == LineStatus.CANCELLED:
            assert started is not None
            end = min(self.today - dt.timedelta(days=1), started + dt.timedelta(days=rng.randint(30, 700)))
            if end < started:
                end = started
        elif rng.random() < 0.04:
            # A cancellation already accepted, ending on the last day of a coming month.
            month_end = (self.today.replace(day=1) + dt.timedelta(days=32 * rng.randint(1, 6))).replace(day=1)
            end = month_end - dt.timedelta(days=1)
        if started is not None and started > self.today:
            started = self.today
        voice: dict[str, Any] = {}
        if sim_type == SimType.VOICE:
            voice = {
                "voicemail": rng.random() < 0.6,
                "call_waiting": rng.random() < 0.4,
                "flat_rate_calling": rng.random() < 0.3,
                "network_pin": "1234",
            }
            if carrier == Carrier.DOCOMO:
                voice["international_call_cap"] = rng.choice([0, 5000, 10000, 20000, 30000, 50000, 80000, 100000])
                voice["international_roaming_cap"] = rng.choice([0, 50000])
        data_cap = rng.choice([100, 300, 500, 1024]) if plan.has_data_cap else None
        carrier_digit = {Carrier.DOCOMO: 1, Carrier.SOFTBANK: 2, Carrier.AU: 3}[carrier]
        # Products shipped with a plan already set carry the plan code (M-DL-4 ④).
        if rng.random() < 0.5:
            product = f"{plan.code}-{sim_size.upper()[:1]}"
        else:
            product = f"SIM-{carrier.upper()[:2]}-{sim_type.upper()}"
        return (
            tenant_id, msisdn, temporary, _iccid(carrier_digit, 10**11 + i), product, plan.pk, carrier.value,
            sim_type.value, sim_size.value, is_ota, shipped, started, end, status.value, voice, data_cap,
            self.now, self.now, port_in, port_in_expires, "", None,
        )


def _write_lines(rows: Iterator[tuple[Any, ...]]) -> int:
    import json

    cols = _LineFactory.COLUMNS
    table = Line._meta.db_table
    count = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            raw = cur.cursor  # psycopg 3 cursor: COPY is the database's own bulk path
            with raw.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    out = list(row)
                    out[14] = json.dumps(row[14])
                    copy.write_row(out)
                    count += 1
        return count
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"  # noqa: S608
    batch: list[list[Any]] = []
    with connection.cursor() as cur:
        for row in rows:
            out = list(row)
            out[14] = json.dumps(row[14])
            out[16] = out[17] = connection.ops.adapt_datetimefield_value(row[16])
            for j in (10, 11, 12, 19, 21):
                out[j] = connection.ops.adapt_datefield_value(row[j])
            batch.append(out)
            if len(batch) >= 20000:
                cur.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
            count += len(batch)
    return count


def demo_create(*, lines: int = DEFAULT_LINES, seed: int = DEFAULT_SEED, today: dt.date | None = None,
                reset: bool = False) -> DemoResult:
    """Create the demo data (or, when it already exists and ``reset`` is false, only report it)."""
    import time

    started = time.perf_counter()
    if demo_exists() and not reset:
        result = _credentials(seed)
        result.created = False
        result.lines = Line.objects.filter(tenant__public_id__in=[t["public_id"] for t in TENANTS]).count()
        return result
    if reset:
        demo_delete()
    today = today or clock.today_jst()
    result = _credentials(seed)
    with transaction.atomic():
        plans = _ensure_plans()
        tenants = []
        for spec, creds in zip(TENANTS, result.tenants, strict=True):
            fields = {k: v for k, v in spec.items() if k != "share"}
            tenant = _demo_tenant(fields)
            tenants.append(tenant)
            for u, c in zip(USERS, creds["users"], strict=True):
                _demo_user(tenant, u["username"], c["password"], display_name=u["display_name"],
                           is_root=u["is_root"], email=spec["contact_email"] if u["is_root"] else "")
        _demo_user(None, STAFF_USERNAME, result.staff["password"], display_name="オペレーター管理者",
                   is_staff=True, is_superuser=True)
        factory = _LineFactory(seed, today, plans)

        def rows() -> Iterator[tuple[Any, ...]]:
            i = 0
            for tenant, n in zip(tenants, _split(lines), strict=True):
                for _ in range(n):
                    yield factory.row(i, tenant.pk)
                    i += 1

        result.lines = _write_lines(rows())
        # Their line history (issue 10 §1): one set-wise INSERT … SELECT, like the migration's.
        line_history_open_missing(reason=LinePeriodReason.DEMO, tenant_ids=[t.pk for t in tenants])
        for tenant, n in zip(tenants, _split(lines), strict=True):
            audit_record(action="demo.lines.import", tenant=tenant, actor="kaisen demo",
                         changes={"lines": [0, n], "seed": [None, seed]})
    if connection.vendor == "postgresql":
        # VACUUM also sets the visibility map, so counts become index-only scans. It cannot run inside a
        # transaction (e.g. a test's), where ANALYZE alone refreshes the planner's statistics.
        with connection.cursor() as cur:
            vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            cur.execute(f"{vacuum} {Line._meta.db_table}")
    else:
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    # Usage history (issue 4 §1): the simulated carrier's usage files of the last 6 months, imported.
    from kaisen.usage.demo import demo_usage_create

    demo_usage_create(tenants=tenants, today=today, seed=seed)
    # Billing (issue 4 §2-§3): the past months rated and closed, the current month provisional.
    from kaisen.billing.demo import demo_billing_create

    demo_billing_create(tenants=tenants, today=today, seed=seed)
    # Payments (issue 4 §5): a method per tenant, past invoices collected, one payment error.
    from kaisen.payments.demo import demo_payments_create

    demo_payments_create(tenants=tenants, today=today)
    # SIM and device orders (issue 12): the starting catalogue (demo prices), for the quote calculator.
    from kaisen.goods.setup import catalogue_ensure

    catalogue_ensure(day=today)
    # Orders (issue 14): a history in every order status, decided by the procedures' own rules.
    from kaisen.procedures.demo import demo_orders_create

    roots = {u.tenant_id: u for u in User.objects.filter(tenant__in=tenants, is_root=True).order_by("pk")}
    demo_orders_create(tenants=tenants, today=today, users=roots)
    # Access (issue 5 §1): tanaka_ops holds the operations role; lines carry department tags.
    from kaisen.access.demo import demo_access_create

    demo_access_create(tenants=tenants)
    # Account pages (issue 5 §7): contract summary, services, dial-in numbers (K-1, K-2).
    from kaisen.account.demo import demo_account_create

    demo_account_create(tenants=tenants)
    result.seconds = time.perf_counter() - started
    return result
