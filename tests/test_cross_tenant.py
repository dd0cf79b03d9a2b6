"""THE cross-tenant sweep (T-2): no page and no API route shows or changes another tenant's data.

The routes are not listed by hand. Every URL pattern of ``kaisen.urls`` (walked recursively from
``django.urls.get_resolver()``) and every operation of the OpenAPI document is requested as a signed-in
user of tenant A (a session for pages, a bearer token for the API) with tenant B's object IDs, phone
numbers and SIM serials. A route with a parameter must answer 404 (or the same refusal it gives for an
object that does not exist at all); a route without one must not show B's data, even when B's number or
serial is given as a search term. A route whose parameter the sweep cannot fill fails the test: teach
``PAGE_PARAMS`` / ``API_PARAMS`` below, so that a route added later is covered the day it is added.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from kaisen.access.models import ApprovalRequest, LineTag, LineTagging, Role
from kaisen.accounts.models import ApiKey
from kaisen.audit.models import AuditEvent
from kaisen.audit.services import audit_record
from kaisen.core.errors import NotFound
from kaisen.core.numbers import msisdn_format
from kaisen.lines.models import Line
from kaisen.procedures.models import BulkJob, Order
from kaisen.tenancy.models import SimTransfer, SimTransferLine
from tests.conftest import TenantWorld
from tests.factories import make_iccid


def _content(response: Any) -> bytes:
    """The body of a plain or a streamed response (CSV exports stream), read once and kept."""
    if not getattr(response, "streaming", False):
        return response.content
    if not hasattr(response, "_sweep_body"):
        response._sweep_body = b"".join(response.streaming_content)
    return response._sweep_body

#: URL prefixes / names the sweep leaves out, each with the reason.
EXCLUDED_PREFIXES = {
    "admin/": "operator staff back office (T-3): staff see every tenant by design",
    "i18n/": "language switch (set_language): no tenant data",
    "static/": "static files",
    "api/v1/": "API routes are swept operation by operation from the OpenAPI document below",
}
EXCLUDED_NAMES = {
    "accounts:login": "the login form itself (tests/test_pages.py)",
    "accounts:logout": "ends the session the sweep is using",
    "goods_public:quote": "a public-calculator quote belongs to no tenant; its token is a 256-bit secret in its link "
                          "(tests/goods/test_goods_web_api.py)",
    "goods_public:quote_email": "mails a public-calculator quote, which belongs to no tenant, by its 256-bit token "
                                "(tests/goods/test_goods_public_email.py)",
    "ops:bench_minimal": "not a page: the API benchmark's minimal view, 404 unless KAISEN_BENCH_VIEWS=1, which no "
                         "deployment sets (tests/test_ops.py::test_bench_minimal_view_is_off_unless_asked)",
    "mfa:confirm": "the token is a 256-bit secret mailed to the new 2FA address, not an object ID; the page asks for "
                   "the user's own ID + password (tests/security/test_mfa.py)",
}
#: API operations left out, each with the reason.
EXCLUDED_API = {
    ("POST", "/api/v1/auth"): "authentication: exchanges credentials, reads no tenant data (tests/test_auth.py)",
    ("DELETE", "/api/v1/auth"): "revokes the sweep's own token (tests/test_auth.py)",
    ("POST", "/api/v1/auth/mfa"): "second step of POST /auth: answers a challenge, reads no tenant data "
                                  "(tests/security/test_mfa.py)",
    ("GET", "/api/v1/goods/public/quotes/{token}/pdf"): "a public-calculator quote belongs to no tenant; its token "
                                                        "is a 256-bit secret (tests/goods/test_goods_web_api.py)",
    ("POST", "/api/v1/goods/public/quotes/{token}/email"): "mails a public-calculator quote (no tenant) by its "
                                                           "256-bit token (tests/goods/test_goods_public_email.py)",
    ("POST", "/api/v1/auth/mfa/resend"): "mails a new code for a challenge, reads no tenant data "
                                         "(tests/security/test_mfa.py)",
}
#: API documents served by Django Ninja, checked for B's data like any other route.
NINJA_DOC_ROUTES = {"api/v1/openapi.json", "api/v1/docs", "api/v1/"}


@dataclass
class Victim:
    """Tenant B, with one object of every kind that a route may name."""

    world: TenantWorld
    line: Line
    audit_event: AuditEvent
    mail_name: str
    order: Order
    bulk_job: BulkJob
    transfer: Any = None  # an open SIM transfer B sent (S-ACC-4)

    @property
    def statement_id(self) -> int:
        """B's generated statement (issue 4 §6, K-5), made directly the first time it is asked for."""
        from kaisen.statements.models import Statement

        tenant = self.world.tenant
        statement, _created = Statement.objects.get_or_create(
            tenant=tenant, kind="cdr", file_name=f"{tenant.public_id}_CDR_202610.csv",
            defaults={"period": dt.date(2026, 10, 1), "status": "done", "rows_total": 1, "rows_done": 1,
                      "requested_by": self.world.user, "file_path": f"{tenant.pk}/sweep.csv"})
        return statement.pk

    @property
    def notice_id(self) -> int:
        """A notice (お知らせ, issue 15) published to B only, made the first time it is asked for."""
        from kaisen.controls.models import Notice

        notice = Notice.objects.filter(title_ja="B宛てのお知らせ").first()
        if notice is None:
            notice = Notice.objects.create(title_ja="B宛てのお知らせ", title_en="For B only", body_ja="B",
                                           body_en="B", starts_at=timezone.now() - dt.timedelta(days=1),
                                           all_tenants=False)
            notice.tenants.set([self.world.tenant])
        return notice.pk

    def payments_params(self) -> dict[str, Any]:
        """Payments (issue 4 §5): B's invoice in payment error, B's billing email, and the Global coverage,
        which only B holds (tenant A holds Japan only), so ``coverage=global`` names B's payment setting."""
        from kaisen.billing.models import Invoice
        from kaisen.payments.models import BillingEmail

        tenant = self.world.tenant
        return {"invoice_id": Invoice.objects.filter(tenant=tenant).values_list("pk", flat=True).first(),
                "email_id": BillingEmail.objects.filter(tenant=tenant).values_list("pk", flat=True).first(),
                "coverage": "global"}

    def goods_params(self) -> dict[str, Any]:
        """B's quote and SIM order (issue 12), made directly the first time they are asked for."""
        from kaisen.goods.models import GoodsOrder, Quote

        tenant = self.world.tenant
        today = dt.date(2026, 12, 1)
        quote, _q = Quote.objects.get_or_create(
            tenant=tenant, number=f"QSWEEP{tenant.pk}",
            defaults={"token": uuid.uuid4().hex, "addressee": tenant.legal_name, "issued_on": today,
                      "valid_until": today + dt.timedelta(days=3650)})
        order, _o = GoodsOrder.objects.get_or_create(
            tenant=tenant, number=f"GSWEEP{tenant.pk}",
            defaults={"idempotency_key": "sweep", "request_hash": "sweep", "payment_method": "invoice",
                      "shipping_code": "SHIP-60", "recipient": tenant.legal_name, "postal_code": "100-0001",
                      "address": "sweep", "tracking_number": "SWEEP-TRACK"})
        return {"quote_id": quote.pk, "goods_order_id": order.pk}

    @property
    def role(self) -> Role:
        """B's custom role, line tag and approval request (issue 5 §1), made by the ``victim`` fixture."""
        return Role.objects.get(tenant=self.world.tenant, name="sweep role")

    @property
    def tag(self) -> LineTag:
        return LineTag.objects.get(tenant=self.world.tenant, name="sweep-dept")

    @property
    def approval(self) -> ApprovalRequest:
        return ApprovalRequest.objects.get(tenant=self.world.tenant, idempotency_key="sweep")

    def events_params(self) -> dict[str, Any]:
        """B's webhook endpoint, one delivery to it and a usage alert rule (issue 13), made by ``victim``."""
        from kaisen.alerts.models import AlertRule
        from kaisen.events.models import Delivery, WebhookEndpoint

        tenant = self.world.tenant
        return {"endpoint_id": WebhookEndpoint.objects.get(tenant=tenant).pk,
                "delivery_id": Delivery.objects.get(tenant=tenant).pk,
                "rule_id": AlertRule.objects.get(tenant=tenant).pk}

    @property
    def usage_file_id(self) -> int:
        """The usage file with B's calls and data usage (issue 4 §1), imported by the ``victim`` fixture."""
        from kaisen.usage.models import UsageFile

        return UsageFile.objects.get(name=f"sweep-usage-{self.world.tenant.pk}.csv").pk

    @property
    def markers(self) -> list[str]:
        """Strings that must never appear in an answer to tenant A."""
        return [
            self.line.iccid, self.line.msisdn or "", msisdn_format(self.line.msisdn or ""),
            self.world.api_key.key_id, self.world.tenant.public_id, self.world.tenant.legal_name,
        ]

    def page_params(self, namespace: str) -> dict[str, Any]:
        """How to fill a page route's parameter with B's object, by name (and app for a bare ``pk``)."""
        by_app_pk = {"lines": self.line.pk, "audit": self.audit_event.pk}
        params: dict[str, Any] = {
            **self.payments_params(),  # first: a later key of the same name wins
            **self.goods_params(),
            "line_id": self.line.pk,
            "msisdn": self.line.msisdn,
            "iccid": self.line.iccid,
            "key_id": self.world.api_key.key_id,
            "event_id": self.audit_event.pk,
            "user_id": self.world.user.pk,
            "name": self.mail_name,  # core:dev_mail_detail: a mail file about B
            "order_id": self.order.pk,
            "job_id": self.bulk_job.pk,
            "statement_id": self.statement_id,
            "role_id": self.role.pk,
            "tag_id": self.tag.pk,
            "approval_id": self.approval.pk,
            "transfer_id": self.transfer.pk,
            **self.events_params(),
            "notice_id": self.notice_id,
        }
        params["file_id"] = self.usage_file_id  # usage imports (staff pages): B's usage file
        if namespace in by_app_pk:
            params["pk"] = by_app_pk[namespace]
        return params

    def api_params(self) -> dict[str, Any]:
        return {
            **self.payments_params(),  # first: a later key of the same name wins
            **self.goods_params(),
            "line_id": self.line.pk,
            "msisdn": self.line.msisdn,
            "iccid": self.line.iccid,
            "key_id": self.world.api_key.key_id,
            "event_id": self.audit_event.pk,
            "user_id": self.world.user.pk,
            "order_id": self.order.pk,
            "job_id": self.bulk_job.pk,
            "statement_id": self.statement_id,
            "role_id": self.role.pk,
            "tag_id": self.tag.pk,
            "approval_id": self.approval.pk,
            "transfer_id": self.transfer.pk,
            **self.events_params(),
            "notice_id": self.notice_id,
            "kind": "suspend",  # request bodies: a valid procedure, so the answer is about B's object
        }


NONEXISTENT = {int: 987_654_321, str: "KK0000000000DEAD"}


@dataclass(frozen=True)
class PageRoute:
    route: str
    name: str  # "namespace:name", or "" when unnamed
    params: tuple[str, ...]
    converters: dict[str, Any]

    @property
    def namespace(self) -> str:
        return self.name.split(":")[0] if ":" in self.name else ""


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "",
          converters: dict[str, Any] | None = None) -> Iterator[PageRoute]:
    for entry in patterns:
        conv = {**(converters or {}), **getattr(entry.pattern, "converters", {})}
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from _walk(entry.url_patterns, route, ns, conv)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            params = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route)) or tuple(entry.pattern.regex.groupindex)
            yield PageRoute(route=route, name=name, params=params, converters=conv)


def all_page_routes() -> list[PageRoute]:
    return list(_walk(get_resolver().url_patterns))


def swept_page_routes() -> list[PageRoute]:
    return [r for r in all_page_routes()
            if not any(r.route.startswith(p) for p in EXCLUDED_PREFIXES) and r.name not in EXCLUDED_NAMES]


def _payments_victim(world: TenantWorld) -> None:
    """B's payment objects (issue 4 §5), made directly: Global coverage paid by card, an issued Global invoice
    in payment error with a declined attempt, a billing email address."""
    from decimal import Decimal

    from kaisen.billing.models import Invoice
    from kaisen.payments.models import BillingEmail, Payment, PaymentSetting

    tenant = world.tenant
    tenant.coverage_global = True
    tenant.save(update_fields=["coverage_global"])
    PaymentSetting.objects.create(tenant=tenant, coverage="global", method="card", card_token="tok_sweep",
                                  card_brand="visa", card_last4="4242", card_exp_month=12, card_exp_year=2099)
    invoice = Invoice.objects.create(tenant=tenant, coverage="global", month=dt.date(2026, 1, 1), currency="USD",
                                     status="payment_error", number=f"SWEEP-{tenant.public_id}",
                                     total=Decimal("10.00"), total_jpy=1500)
    Payment.objects.create(tenant=tenant, invoice=invoice, channel="card", method="card", status="declined",
                           amount=Decimal(1500), currency="JPY", failure_code="card_declined")
    BillingEmail.objects.create(tenant=tenant, email="sweep-billing@example.co.jp")


def _import_usage_of(world: TenantWorld) -> None:
    """B's line gets calls, an SMS and daily data usage through the real importer (issue 4 §1), so the usage
    pages and API have B's data to leak if a tenant check were missing."""
    import io

    from kaisen.core import clock
    from kaisen.usage.ingest import usage_file_import

    day = f"{clock.now_jst() - dt.timedelta(days=1):%Y-%m-%d}"
    number, pk = world.line.msisdn, world.tenant.pk
    calls = ("record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"
             f"SWEEP-{pk}-1,{number},{day} 10:00:00.0,600,0312345678,東京,,0,1,,voice\n"
             f"SWEEP-{pk}-2,{number},{day} 11:00:00.0,0,09012345678,携帯,au,0,1,,sms\n")
    usage_file_import(fileobj=io.BytesIO(calls.encode()), name=f"sweep-usage-{world.tenant.pk}.csv")
    days = [clock.today_jst() - dt.timedelta(days=n) for n in range(2, 40)]
    data = "date,msisdn,bytes\n" + "".join(f"{d},{world.line.msisdn},{123456789 + i}\n" for i, d in enumerate(days))
    usage_file_import(fileobj=io.BytesIO(data.encode()), name=f"sweep-data-{world.tenant.pk}.csv")


def _events_victim(world: TenantWorld) -> None:
    """B's webhook endpoint with a delivery, and a usage alert rule (issue 13), made directly."""
    from kaisen.alerts.models import AlertRule
    from kaisen.events.models import Delivery, Event, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(tenant=world.tenant, url="https://hooks.example.com/b",
                                              event_types=["order.completed"], secret="whsec_c3dlZXA=")
    event = Event.objects.create(tenant=world.tenant, event_id=f"evt_sweep{world.tenant.pk}", type="order.completed",
                                 data={"iccid": world.line.iccid}, occurred_at=timezone.now())
    Delivery.objects.create(tenant=world.tenant, endpoint=endpoint, event=event, status="failed")
    AlertRule.objects.create(tenant=world.tenant, name="sweep rule", condition="data_month_mb", threshold=1,
                             actions=["mail"], created_by=world.user)


@pytest.fixture
def victim(tenant_b: TenantWorld) -> Iterator[Victim]:
    event = audit_record(action="line.update", tenant=tenant_b.tenant, user=tenant_b.user, target=tenant_b.line,
                         changes={"iccid": [None, tenant_b.line.iccid]})
    folder = Path(settings.EMAIL_FILE_PATH)
    folder.mkdir(parents=True, exist_ok=True)
    mail = folder / f"sweep-{uuid.uuid4().hex}.log"
    mail.write_text(f"Subject: line {tenant_b.line.iccid}\nTo: {tenant_b.tenant.notification_email}\n\n"
                    f"{tenant_b.tenant.legal_name} {tenant_b.line.iccid}\n", encoding="utf-8")
    # A cancellable order and a bulk job of B's, made directly (no reception hours in the sweep).
    now = timezone.now()
    order = Order.objects.create(tenant=tenant_b.tenant, line=tenant_b.line, kind="cancellation",
                                 params={"end_date": "2099-12-31"}, status="scheduled", idempotency_key="sweep",
                                 params_hash="sweep", effective_date=now.date(), due_at=now + dt.timedelta(days=30),
                                 cancellable_until=now + dt.timedelta(days=29))
    job = BulkJob.objects.create(tenant=tenant_b.tenant, kind="suspend", filename="b.csv", rows_total=1,
                                 results=[{"row": 1, "line": tenant_b.line.msisdn, "ok": True, "result": "accepted",
                                           "order_id": order.pk, "effective_date": None, "code": "", "message": "",
                                           "input": [["line", tenant_b.line.msisdn]]}])
    _payments_victim(tenant_b)
    # An open SIM transfer of B's (S-ACC-4), made directly: the sweep needs the object, not the rules.
    transfer = SimTransfer.objects.create(from_tenant=tenant_b.tenant, to_public_id="OP0000000001",
                                          token_hash=uuid.uuid4().hex, created_by=tenant_b.user, created_at=now,
                                          expires_at=now + dt.timedelta(days=7))
    SimTransferLine.objects.create(transfer=transfer, line=tenant_b.line, iccid=tenant_b.line.iccid,
                                   msisdn=tenant_b.line.msisdn or "")
    # B's custom role, line tag (on B's line) and approval request (issue 5 §1), made directly.
    tag = LineTag.objects.create(tenant=tenant_b.tenant, kind="department", name="sweep-dept")
    LineTagging.objects.create(tenant=tenant_b.tenant, line=tenant_b.line, tag=tag)
    Role.objects.create(tenant=tenant_b.tenant, name="sweep role")
    ApprovalRequest.objects.create(tenant=tenant_b.tenant, line=tenant_b.line, kind="cancellation",
                                   params={"end_date": "2099-12-31"}, requested_by=tenant_b.user,
                                   idempotency_key="sweep")
    _import_usage_of(tenant_b)
    _events_victim(tenant_b)
    yield Victim(world=tenant_b, line=tenant_b.line, audit_event=event, mail_name=mail.name, order=order,
                 bulk_job=job, transfer=transfer)
    mail.unlink(missing_ok=True)


def _assert_no_leak(body: bytes, victim: Victim, where: str, sent: str = "") -> None:
    """None of B's markers in the answer, except what A itself sent (a search box echoes its input)."""
    text = body.decode("utf-8", errors="replace")
    for marker in victim.markers:
        if marker and marker not in sent:
            assert marker not in text, f"{where}: tenant B's {marker!r} appears in the answer to tenant A"


def _b_state(victim: Victim) -> tuple[Any, ...]:
    line = Line.objects.get(pk=victim.line.pk)
    key = ApiKey.objects.get(pk=victim.world.api_key.pk)
    order = Order.objects.get(pk=victim.order.pk)
    transfer = SimTransfer.objects.get(pk=victim.transfer.pk) if victim.transfer else None
    return (line.status, line.updated_at, line.msisdn, line.plan_id, line.tenant_id, key.revoked_at, key.name,
            transfer and (transfer.status, transfer.to_tenant_id),
            AuditEvent.objects.filter(tenant=victim.world.tenant).count(), order.status, order.updated_at,
            Order.objects.filter(line=victim.line).count(), _events_state(victim))


def _events_state(victim: Victim) -> tuple[Any, ...]:
    from kaisen.alerts.models import AlertRule
    from kaisen.events.models import Delivery, WebhookEndpoint

    tenant = victim.world.tenant
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    return (endpoint.url, endpoint.enabled, endpoint.secret, endpoint.event_types,
            list(Delivery.objects.filter(tenant=tenant).values_list("status", "attempts")),
            list(AlertRule.objects.filter(tenant=tenant).values_list("enabled", flat=True)))


def test_sweep_sees_the_routes_it_should() -> None:
    """A guard on the walker itself: if it stopped finding routes, the sweep would prove nothing."""
    names = {r.name for r in all_page_routes()}
    routes = {r.route for r in all_page_routes()}
    assert "api/v1/lines/<int:line_id>" in routes
    for expected in ("lines:list", "lines:lookup", "lines:detail", "accounts:api_keys", "audit:list", "core:home"):
        assert expected in names, f"{expected} not found by the URL walker"
    detail = next(r for r in all_page_routes() if r.name == "lines:detail")
    assert detail.params == ("pk",)


@pytest.mark.django_db
def test_no_page_shows_or_changes_another_tenants_data_t_2(tenant_a: TenantWorld, victim: Victim) -> None:
    """T-2: every page route, requested by tenant A with tenant B's IDs, numbers and serials, is a 404."""
    client = Client()
    client.force_login(tenant_a.user)
    before = _b_state(victim)
    problems: list[str] = []
    checked = 0
    for route in swept_page_routes():
        if not route.name:
            problems.append(f"URL pattern {route.route!r} has no name: name it so the sweep can reverse it")
            continue
        if route.params:
            fill = victim.page_params(route.namespace)
            unknown = [p for p in route.params if p not in fill]
            if unknown:
                problems.append(
                    f"{route.name} ({route.route}) has parameter(s) {unknown} the cross-tenant sweep cannot fill: "
                    f"teach Victim.page_params in tests/test_cross_tenant.py which of tenant B's objects they name"
                )
                continue
            url = reverse(route.name, kwargs={p: fill[p] for p in route.params})
            ghost_kwargs = {}
            for p in route.params:
                ghost_kwargs[p] = NONEXISTENT[int] if isinstance(fill[p], int) else NONEXISTENT[str] + ".log"
            try:
                ghost_url = reverse(route.name, kwargs=ghost_kwargs)
            except Exception:  # a converter refuses the ghost value: compare with 404 only
                ghost_url = ""
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                ghost = getattr(client, method)(ghost_url).status_code if ghost_url else 404
                where = f"{method.upper()} {url} ({route.name})"
                checked += 1
                _assert_no_leak(_content(response), victim, where, sent=url)
                if response.status_code == 405:
                    continue
                if response.status_code != 404 and not (response.status_code == 403 and ghost == 403):
                    problems.append(f"{where} answered {response.status_code}, expected 404 for tenant B's object "
                                    f"(a missing object answers {ghost})")
        else:
            url = reverse(route.name)
            for query in ({}, {"q": victim.line.msisdn}, {"q": victim.line.iccid},
                          {"msisdn": victim.line.msisdn, "iccid": victim.line.iccid}):
                response = client.get(url, query, follow=True)
                where = f"GET {url}?{query} ({route.name})"
                checked += 1
                _assert_no_leak(_content(response), victim, where, sent=" ".join(query.values()))
                if response.status_code >= 500:
                    problems.append(f"{where} answered {response.status_code}")
                for hop, _status in response.redirect_chain:
                    if f"/{victim.line.pk}/" in hop:
                        problems.append(f"{where} redirected to tenant B's line: {hop}")
    assert checked > 10
    assert not problems, "\n".join(problems)
    assert _b_state(victim) == before, "tenant B's line, API key or audit trail changed"


def _api_routes_from_resolver() -> set[str]:
    routes = set()
    for route in all_page_routes():
        if route.route.startswith("api/v1/") and route.route not in NINJA_DOC_ROUTES:
            routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.route))
    return routes


def _example_body(schema: dict[str, Any], components: dict[str, Any], fill: dict[str, Any]) -> Any:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        return _example_body(next(s for s in schema["anyOf"] if s.get("type") != "null"), components, fill)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: fill.get(name, _example_body(sub, components, fill)) for name, sub in props.items()
                if name in schema.get("required", []) or name in fill}
    return {"string": "sweep", "integer": 1, "number": 1, "boolean": False, "array": []}.get(kind or "")


@pytest.mark.django_db
def test_no_api_route_shows_or_changes_another_tenants_data_t_2(tenant_a: TenantWorld, victim: Victim) -> None:
    """T-2 / X-API: every operation of the OpenAPI document, as tenant A with tenant B's objects, is a 404."""
    api = tenant_a.api()
    document = Client().get("/api/v1/openapi.json")
    assert document.status_code == 200
    openapi = document.json()
    components = openapi.get("components", {}).get("schemas", {})
    paths: dict[str, dict[str, Any]] = openapi["paths"]

    missing = _api_routes_from_resolver() - set(paths)
    assert not missing, f"URL patterns under api/v1/ that the OpenAPI document does not list: {missing}"
    for doc in sorted(NINJA_DOC_ROUTES):
        _assert_no_leak(api.get("/" + doc).content, victim, f"GET /{doc}")

    before = _b_state(victim)
    fill = victim.api_params()
    problems: list[str] = []
    checked = 0
    for path, operations in sorted(paths.items()):
        for method, operation in sorted(operations.items()):
            method = method.upper()
            if (method, path) in EXCLUDED_API:
                continue
            params = re.findall(r"{(\w+)}", path)
            unknown = [p for p in params if p not in fill]
            if unknown:
                problems.append(f"{method} {path} has path parameter(s) {unknown} the cross-tenant sweep cannot fill: "
                                f"teach Victim.api_params in tests/test_cross_tenant.py")
                continue
            url = re.sub(r"{(\w+)}", lambda m: str(fill[m.group(1)]), path)
            body = None
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                body = _example_body(content["schema"], components, fill)
            checked += 1
            if params:
                response = api.request(method, url, body)
                where = f"{method} {url}"
                _assert_no_leak(_content(response), victim, where, sent=url)
                if response.status_code != 404:
                    problems.append(f"{where} answered {response.status_code}, expected 404 for tenant B's object")
                elif response.json().get("code") != "NOT_FOUND":
                    problems.append(f"{where}: 404 without code NOT_FOUND: {_content(response)!r}")
            else:
                queries = [{}]
                if method == "GET":
                    queries += [{"q": victim.line.msisdn}, {"q": victim.line.iccid}]
                for query in queries:
                    response = api.get(url, query) if method == "GET" else api.request(method, url, body)
                    where = f"{method} {url} {query}"
                    _assert_no_leak(_content(response), victim, where, sent=" ".join(query.values()))
                    if response.status_code >= 500 or response.status_code == 401:
                        problems.append(f"{where} answered {response.status_code}")
    assert checked >= 5
    assert not problems, "\n".join(problems)
    assert _b_state(victim) == before, "tenant B's line, API key or audit trail changed"
    assert victim.world.api().get("/api/v1/me").status_code == 200, "tenant B's own token stopped working"


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["line_id", "msisdn", "iccid"])
def test_api_get_other_tenants_line_is_404_like_a_missing_one_t_2(tenant_a: TenantWorld, tenant_b: TenantWorld,
                                                                  how: str) -> None:
    """T-2: the answer for B's line is byte-for-byte the answer for a line that does not exist."""
    b_line = tenant_b.line
    urls = {
        "line_id": (f"/api/v1/lines/{b_line.pk}", "/api/v1/lines/987654321"),
        "msisdn": (f"/api/v1/lines/by-msisdn/{b_line.msisdn}", "/api/v1/lines/by-msisdn/09099999999"),
        "iccid": (f"/api/v1/lines/by-iccid/{b_line.iccid}", f"/api/v1/lines/by-iccid/{make_iccid(999_999_999)}"),
    }[how]
    theirs, missing = (tenant_a.api().get(u) for u in urls)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content


def _leaky_line_get(*, tenant: Any, line_id: int | None = None, msisdn: str | None = None,
                    iccid: str | None = None, **_: Any) -> Line:
    """``line_get`` with the tenant check forgotten: the bug the sweep exists to catch."""
    lookup = {"pk": line_id} if line_id is not None else {"msisdn": msisdn} if msisdn else {"iccid": iccid}
    line = Line.objects.filter(**lookup).first()
    if line is None:
        raise NotFound()
    return line


@pytest.mark.django_db
@pytest.mark.parametrize("surface", ["pages", "api"])
def test_the_sweep_catches_a_forgotten_tenant_check(monkeypatch: pytest.MonkeyPatch, tenant_a: TenantWorld,
                                                    victim: Victim, surface: str) -> None:
    """The sweep's own test: with the tenant filter removed from the line lookup, it must fail."""
    from kaisen.lines import api as lines_api
    from kaisen.lines import views as lines_views

    if surface == "pages":
        monkeypatch.setattr(lines_views, "line_get", _leaky_line_get)
        sweep = test_no_page_shows_or_changes_another_tenants_data_t_2
    else:
        monkeypatch.setattr(lines_api, "line_get", _leaky_line_get)
        sweep = test_no_api_route_shows_or_changes_another_tenants_data_t_2
    with pytest.raises(AssertionError, match=r"tenant B|expected 404"):
        sweep(tenant_a, victim)



@pytest.mark.django_db
@pytest.mark.parametrize("what", ["order", "bulk_job"])
def test_the_sweep_catches_a_forgotten_tenant_check_on_orders_and_bulk_jobs(monkeypatch: pytest.MonkeyPatch,
                                                                            tenant_a: TenantWorld, victim: Victim,
                                                                            what: str) -> None:
    """The sweep fills ``order_id`` and ``job_id`` with B's objects: a lookup without the tenant fails it."""
    from kaisen.procedures import api as procedures_api
    from kaisen.procedures import selectors as order_selectors

    if what == "order":
        monkeypatch.setattr(order_selectors, "order_get",
                            lambda *, tenant, order_id, **_: Order.objects.get(pk=order_id))
        monkeypatch.setattr(order_selectors, "order_events", lambda *, tenant, order: list(order.events.all()))
    else:
        monkeypatch.setattr(procedures_api, "bulk_job_get",
                            lambda *, tenant, job_id, **_: BulkJob.objects.get(pk=job_id))
    with pytest.raises(AssertionError, match=r"tenant B|expected 404"):
        test_no_api_route_shows_or_changes_another_tenants_data_t_2(tenant_a, victim)



@pytest.mark.django_db
@pytest.mark.parametrize("surface", ["pages", "api"])
def test_the_sweep_catches_a_forgotten_tenant_check_on_transfers(
        monkeypatch: pytest.MonkeyPatch, tenant_a: TenantWorld, victim: Victim, surface: str) -> None:
    """The sweep fills ``transfer_id`` (S-ACC-4) with B's transfer: a lookup without the tenant fails it."""
    from kaisen.account import selectors as account_selectors
    from kaisen.tenancy.models import SimTransfer as Transfer

    def leaky_transfer_get(*, user: Any, transfer_id: int) -> Transfer:
        transfer = Transfer.objects.filter(pk=transfer_id).first()
        if transfer is None:
            raise NotFound()
        return transfer

    monkeypatch.setattr(account_selectors, "transfer_get", leaky_transfer_get)
    sweep = (test_no_page_shows_or_changes_another_tenants_data_t_2 if surface == "pages"
             else test_no_api_route_shows_or_changes_another_tenants_data_t_2)
    with pytest.raises(AssertionError, match=r"tenant B|expected 404"):
        sweep(tenant_a, victim)
