"""Issue 14 / X-AUDIT: the audit log page reads like a page for an accountant, not developer output —
translated action names, only the fields that changed, values formatted as on the other pages (Japan time,
1,234 separators, はい/いいえ), one short row per entry with the changes behind a <details>."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from kaisen.audit.labels import ACTION_LABELS, action_label, change_rows, format_value
from kaisen.audit.services import audit_record
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


def _page(world: TenantWorld, lang: str) -> str:
    client = Client()
    client.force_login(world.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    response = client.get("/audit/")
    assert response.status_code == 200
    return response.content.decode()


def test_changed_fields_only_in_words_not_dict_text(tenant_a: TenantWorld) -> None:
    audit_record(action="order.cancelled", tenant=tenant_a.tenant, user=tenant_a.user, target=tenant_a.line,
                 changes={"status": ["scheduled", "cancelled"], "kind": ["suspend", "suspend"],
                          "params": [None, {"reason": "lost", "count": 12000}],
                          "approval_required": [False, True],
                          "deleted_at": [None, "2026-12-01T01:30:00+00:00"]})
    html = _page(tenant_a, "ja")
    assert "{'" not in html and "&#x27;" not in html and "[None" not in html, "Python dict/list text shown"
    assert "手続き取り下げ" in html, "the action is named in Japanese"
    assert "order.cancelled" not in re.sub(r'title="[^"]*"', "", html), "the code is not shown as the name"
    body = html[html.index("audit-table"):]
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>', body)
    assert "手続き" not in rows, "the kind did not change: not shown as a change"
    assert "12,000" in body and "はい" in body and "いいえ" in body
    assert "2026-12-01 10:30" in body, "a UTC timestamp is shown in Japan time"
    assert "<details>" in body


def test_english_page_uses_english_labels(tenant_a: TenantWorld) -> None:
    audit_record(action="access.settings", tenant=tenant_a.tenant, user=tenant_a.user,
                 changes={"approval_required": [False, True]})
    html = _page(tenant_a, "en")
    assert "Approval setting changed" in html and "Approval required" in html
    assert ">Yes<" in html and ">No<" in html


def test_rows_are_compact() -> None:
    rows = change_rows({"status": ["pending", "approved"], "kind": ["a", "a"], "reason": "too_many"})
    assert [r.field for r in rows] == ["status", "reason"]
    assert rows[1].before is None
    assert change_rows({}) == [] and change_rows(None) == []
    with translation.override("ja"):
        assert format_value(None) == "—"
        assert format_value(True) == "はい" and format_value(False) == "いいえ"
        assert format_value(1234567) == "1,234,567"
        assert format_value("5000", "amount") == "5,000円"
        assert format_value(["a", "b"]) == "a, b"
        assert format_value("completed", "status") == "完了"
        assert format_value(dt.datetime(2026, 1, 1, 15, 0, tzinfo=dt.UTC).isoformat()) == "2026-01-02 00:00"


def _recorded_codes() -> set[str]:
    """Every literal action code the services pass to ``audit_record`` (f-strings are covered below)."""
    codes: set[str] = set()
    for path in (ROOT / "kaisen").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "audit_record":
                for kw in node.keywords:
                    if kw.arg == "action" and not isinstance(kw.value, ast.JoinedStr):
                        codes |= {n.value for n in ast.walk(kw.value)
                                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and "." in n.value}
    return codes


def test_every_recorded_action_has_a_translated_name() -> None:
    from kaisen.procedures.models import OrderStatus

    codes = _recorded_codes()
    assert len(codes) > 50, "the walk is broken"
    codes |= {f"order.{s}" for s in OrderStatus.values}
    codes |= {f"{p}.{c}" for p in ("auth.login", "auth.mfa", "audit.export") for c in ("web", "api", "cli")}
    codes |= {"billing.tariff.update", "billing.tariff.version"}
    missing = sorted(c for c in codes if c not in ACTION_LABELS and not c.startswith("admin."))
    assert missing == []
    with translation.override("ja"):
        untranslated = sorted(c for c in ACTION_LABELS if re.fullmatch(r"[ -~]+", action_label(c)))
    assert untranslated == [], "no Japanese for these action names"
