"""factory_boy factories: valid tenants, users, plans and lines (T-1, M-DL-4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from kaisen.accounts.models import User
from kaisen.carriers.models import Carrier
from kaisen.core.numbers import luhn_check_digit
from kaisen.lines.history import line_history_open, opening_sql
from kaisen.lines.models import Line, LineStatus, Plan, SimSize, SimType
from kaisen.tenancy.models import Tenant

PASSWORD = "correct-horse-battery-9"


def make_iccid(n: int, *, length: int = 19) -> str:
    """A valid ICCID: ``8981`` (telecom, Japan) + serial digits + the Luhn check digit."""
    body = "8981" + str(n).zfill(length - 5)
    return body + str(luhn_check_digit(body))


def make_msisdn(n: int, prefix: str = "090") -> str:
    """A valid Japanese mobile number: 070/080/090 + a digit 1-9 + 7 digits (11 digits)."""
    return f"{prefix}{1 + n // 10_000_000 % 9}{n % 10_000_000:07d}"


class TenantFactory(factory.django.DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    public_id = factory.Sequence(lambda n: f"OP{7_000_000_000 + n:010d}")
    legal_name = factory.Sequence(lambda n: f"テスト商事{n}株式会社")
    contract_code = factory.Sequence(lambda n: f"C{n:08d}")
    contact_email = factory.Sequence(lambda n: f"contact{n}@example.co.jp")
    notification_email = factory.Sequence(lambda n: f"notify{n}@example.co.jp")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    username = factory.Sequence(lambda n: f"user_{n:04d}")
    display_name = factory.Sequence(lambda n: f"利用者 {n}")

    @factory.post_generation
    def password(self: User, create: bool, extracted: str | None, **kwargs: object) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class PlanFactory(factory.django.DjangoModelFactory[Plan]):
    class Meta:
        model = Plan
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PLAN{n:04d}")
    name = factory.Sequence(lambda n: f"データプラン{n}")
    name_en = factory.Sequence(lambda n: f"Data plan {n}")
    carrier = Carrier.DOCOMO
    data_allowance_mb = 3072
    monthly_fee = 980


def _open_like_the_migration(line: Line) -> None:
    """The opening intervals ``kaisen.lines.history.opening_sql`` writes, for this one line."""
    from django.db import connection

    from kaisen.core import clock

    now = connection.ops.adapt_datetimefield_value(clock.now())
    with connection.cursor() as cur:
        for sql in opening_sql(connection.vendor, where="l.id = %s"):
            cur.execute(sql, ["registered", now, line.pk])


class LineFactory(factory.django.DjangoModelFactory[Line]):
    class Meta:
        model = Line
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    plan = factory.SubFactory(PlanFactory)
    carrier = factory.LazyAttribute(lambda o: o.plan.carrier)
    msisdn = factory.Sequence(lambda n: make_msisdn(n))
    iccid = factory.Sequence(lambda n: make_iccid(n))
    product_code = "SIM-NANO-01"
    sim_type = SimType.DATA
    sim_size = SimSize.NANO
    status = LineStatus.ACTIVE
    shipped_on = dt.date(2025, 4, 1)
    started_on = dt.date(2025, 4, 3)

    @factory.post_generation
    def history(obj: Line, create: bool, extracted: Any, **kwargs: Any) -> None:
        """Like ``line_register``: a created line opens its history (issue 10 §1). A line created already
        cancelled with an end date gets the history the migration gives such a line: in service from its
        start date through its end date, cancelled from the day after (rating reads it, issue 10 §3)."""
        if create and extracted is not False:
            if obj.status == LineStatus.CANCELLED and obj.started_on and obj.scheduled_end_on:
                _open_like_the_migration(obj)
            else:
                line_history_open(line=obj)
