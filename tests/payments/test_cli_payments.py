"""``kaisen payments``: the client commands over real HTTP and the operator commands (issue 4 §5;
S-PAY-1..3, S-BILL-1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kaisen.billing.models import Invoice, InvoiceStatus
from kaisen.cli import app
from kaisen.payments.models import Payment
from tests.conftest import make_world
from tests.factories import PASSWORD
from tests.payments.conftest import make_invoice

runner = CliRunner()


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> Any:
    return runner.invoke(app, args, env=env, input=stdin, catch_exceptions=False)


@pytest.fixture
def cli_env(live_server: Any, tmp_path: Path) -> dict[str, str]:
    return {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"),
            "KAISEN_TOKEN": "", "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}


@pytest.mark.django_db(transaction=True)
def test_cli_card_decline_retry_and_contacts_s_pay_1_2_3(cli_env: dict[str, str]) -> None:
    world = make_world(n_lines=1)
    res = _run(["login", "--operator-id", world.tenant.public_id, "--username", world.user.username,
                "--password", PASSWORD], cli_env)
    assert res.exit_code == 0, res.output

    res = _run(["payments", "set-card", "japan", "--exp", "12/2030"], cli_env, stdin="4000000000000002\n123\n")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["card"]["last4"] == "0002"
    assert "4000000000000002" not in res.stdout

    res = _run(["payments", "set-card", "japan", "--exp", "12/2030"], cli_env, stdin="4000056655665556\n123\n")
    assert res.exit_code == 1 and "CARD_TYPE_NOT_ACCEPTED" in res.stderr

    inv = make_invoice(world.tenant)
    res = _run(["admin", "payments", "charge-due", "--date", "2026-11-30"], cli_env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"charged": 1, "paid": 0, "failed": 1, "skipped": 0}

    listed = json.loads(_run(["payments", "list"], cli_env).stdout)
    assert listed[0]["status"] == "payment_error" and listed[0]["can_retry"] is True

    _run(["payments", "set-card", "japan", "--exp", "12/2030"], cli_env, stdin="4242424242424242\n123\n")
    res = _run(["payments", "retry", str(inv.pk)], cli_env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "paid"
    res = _run(["payments", "retry", str(inv.pk)], cli_env)
    assert res.exit_code == 1 and "INVOICE_NOT_PAYABLE" in res.stderr
    assert Payment.objects.filter(invoice=inv, status="succeeded").count() == 1

    for i in range(5):
        assert _run(["payments", "contacts", "--add", f"k{i}@kaisen-test.co.jp"], cli_env).exit_code == 0
    res = _run(["payments", "contacts", "--add", "k5@kaisen-test.co.jp"], cli_env)
    assert res.exit_code == 1 and "BILLING_EMAIL_LIMIT" in res.stderr
    res = _run(["payments", "contacts", "--remove", "k0@kaisen-test.co.jp", "--recovery", "r@kaisen-test.co.jp"],
               cli_env)
    assert res.exit_code == 0
    shown = json.loads(res.stdout)
    assert len(shown["billing_emails"]) == 4 and shown["recovery_email"] == "r@kaisen-test.co.jp"

    res = _run(["payments", "method", "japan", "--set", "invoice"], cli_env)
    assert res.exit_code == 1 and "PAYMENT_METHOD_NOT_ALLOWED" in res.stderr


@pytest.mark.django_db
def test_cli_operator_application_approval_and_receipt_s_pay_1() -> None:
    from kaisen.payments import services

    world = make_world(n_lines=1)
    world.user.email = "owner@kaisen-test.co.jp"
    world.user.save()
    app_ = services.invoice_apply(user=world.user, coverage="japan", company_name="テスト商事", contact_name="経理",
                                  email="keiri@kaisen-test.co.jp", phone="03", postal_code="100-0001",
                                  prefecture="東京都", address="千代田区千代田1-1", delivery="post")
    listed = json.loads(_run(["admin", "payments", "applications"], {}).stdout)
    assert [a["application_id"] for a in listed] == [app_.pk]
    res = _run(["admin", "payments", "approve", str(app_.pk)], {})
    assert res.exit_code == 0 and json.loads(res.stdout)["status"] == "approved"
    assert _run(["admin", "payments", "approve", str(app_.pk)], {}).exit_code == 1  # decided already
    inv = make_invoice(world.tenant)
    res = _run(["admin", "payments", "record-receipt", inv.number, "--note", "振込確認"], {})
    assert res.exit_code == 0, res.output
    assert Invoice.objects.get(pk=inv.pk).status == InvoiceStatus.PAID
    res = _run(["admin", "payments", "record-receipt", inv.number], {})
    assert res.exit_code == 1 and "INVOICE_NOT_PAYABLE" in res.stderr
    services.method_set(user=world.user, coverage="japan", method="bank_debit")
    res = _run(["admin", "payments", "bank-debit-complete", world.tenant.public_id, "japan", "--effective",
                "2027-02-01"], {})
    assert res.exit_code == 0 and json.loads(res.stdout)["method"] == "bank_debit"
