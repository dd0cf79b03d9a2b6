"""Emailing a quote from the public (pre-login) calculator (issue 12 §2: "can be emailed to up to 5
addresses"): only the quote is sent, up to 5 addresses, limited per client address and per recipient."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from kaisen.audit.models import AuditEvent
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.goods import services
from kaisen.goods.models import Quote
from kaisen.notifications.models import OutboxMessage
from tests.goods.conftest import SIM

pytestmark = pytest.mark.usefixtures("catalogue")

SPAM = "Win a prize at http://spam.example"


def _public_quote() -> Quote:
    return services.quote_save(products=[{"code": SIM, "quantity": 2}], addressee=SPAM)


def test_public_quote_is_mailed_without_the_visitors_text() -> None:
    quote = _public_quote()
    to = services.public_quote_email(token=quote.token, emails="a@example.jp, b@example.jp", ip="203.0.113.5")
    assert to == ["a@example.jp", "b@example.jp"]
    message = OutboxMessage.objects.get(topic="goods.quote.public")
    assert message.tenant is None and message.to == to
    assert quote.number in message.subject and quote.number in message.body
    assert SPAM not in message.subject + message.body and "spam.example" not in message.body
    audit = AuditEvent.objects.get(action="goods.quote.email")
    assert audit.tenant is None and audit.ip_address == "203.0.113.5"


def test_public_mail_refuses_bad_or_too_many_addresses() -> None:
    quote = _public_quote()
    for emails in ("", "not-an-address", [f"u{i}@example.jp" for i in range(6)]):
        with pytest.raises(DomainError) as err:
            services.public_quote_email(token=quote.token, emails=emails, ip="203.0.113.5")
        assert err.value.code == ErrorCode.VALIDATION_ERROR and err.value.field == "emails"
    with pytest.raises(DomainError) as err:
        services.public_quote_email(token="no-such-token", emails="a@example.jp", ip="203.0.113.5")
    assert err.value.code == ErrorCode.NOT_FOUND
    assert not OutboxMessage.objects.exists()


def test_throttle_per_client_address() -> None:
    quote = _public_quote()
    for n in range(services.PUBLIC_MAILS_PER_ADDRESS):
        services.public_quote_email(token=quote.token, emails=f"u{n}@example.jp", ip="203.0.113.7")
    with pytest.raises(DomainError) as err:
        services.public_quote_email(token=quote.token, emails="fresh@example.jp", ip="203.0.113.7")
    assert err.value.code == ErrorCode.RATE_LIMITED and err.value.http_status == 429
    assert err.value.details == {"limit": "client"}
    assert OutboxMessage.objects.count() == services.PUBLIC_MAILS_PER_ADDRESS
    # another client address is not held back
    services.public_quote_email(token=quote.token, emails="fresh@example.jp", ip="198.51.100.9")
    # the window passes
    with time_machine.travel(clock.now() + dt.timedelta(minutes=31), tick=False):
        services.public_quote_email(token=quote.token, emails="later@example.jp", ip="203.0.113.7")


def test_throttle_per_recipient_whatever_the_client() -> None:
    quote = _public_quote()
    for n in range(services.PUBLIC_MAILS_PER_RECIPIENT):
        services.public_quote_email(token=quote.token, emails="victim@example.jp", ip=f"203.0.113.{n + 1}")
    with pytest.raises(DomainError) as err:
        services.public_quote_email(token=quote.token, emails="other@example.jp, VICTIM@example.jp",
                                    ip="198.51.100.50")
    assert err.value.code == ErrorCode.RATE_LIMITED and err.value.details == {"limit": "recipient"}
    assert "victim@example.jp" in str(err.value.message).lower()
    # nothing was sent to the other address of the refused request
    assert all("other@example.jp" not in m.to for m in OutboxMessage.objects.all())


def test_public_mail_on_the_web_page() -> None:
    quote = _public_quote()
    client = Client(REMOTE_ADDR="203.0.113.20")
    page = client.get(f"/quote/{quote.token}/").content.decode()
    assert 'data-testid="public-quote-email"' in page
    done = client.post(f"/quote/{quote.token}/email/", {"emails": "a@example.jp"})
    assert done.status_code == 302 and OutboxMessage.objects.count() == 1
    bad = client.post(f"/quote/{quote.token}/email/", {"emails": "nope"})
    assert bad.status_code == 400 and 'data-testid="email-error"' in bad.content.decode()
    for n in range(services.PUBLIC_MAILS_PER_ADDRESS - 1):
        client.post(f"/quote/{quote.token}/email/", {"emails": f"w{n}@example.jp"})
    limited = client.post(f"/quote/{quote.token}/email/", {"emails": "z@example.jp"})
    assert limited.status_code == 429 and 'data-testid="email-error"' in limited.content.decode()
    assert client.post("/quote/not-a-token/email/", {"emails": "a@example.jp"}).status_code == 404


def test_public_mail_api() -> None:
    client = Client(REMOTE_ADDR="203.0.113.30")
    made = client.post("/api/v1/goods/public/quotes", {"products": [{"code": SIM, "quantity": 1}]},
                       content_type="application/json").json()
    token = made["pdf_url"].split("/")[-2]
    url = f"/api/v1/goods/public/quotes/{token}/email"
    sent = client.post(url, {"emails": ["a@example.jp"]}, content_type="application/json")
    assert sent.status_code == 200 and sent.json() == {"sent_to": ["a@example.jp"]}
    too_many = client.post(url, {"emails": [f"a{i}@example.jp" for i in range(6)]}, content_type="application/json")
    assert too_many.status_code == 422
    for n in range(services.PUBLIC_MAILS_PER_ADDRESS - 1):
        assert client.post(url, {"emails": [f"b{n}@example.jp"]}, content_type="application/json").status_code == 200
    limited = client.post(url, {"emails": ["c@example.jp"]}, content_type="application/json")
    assert limited.status_code == 429 and limited.json()["code"] == "RATE_LIMITED"
    assert client.post("/api/v1/goods/public/quotes/nope/email", {"emails": ["a@example.jp"]},
                       content_type="application/json").status_code == 404
