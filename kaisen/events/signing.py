"""Standard Webhooks signatures (https://www.standardwebhooks.com/) with the ``standardwebhooks`` library.

Secrets are ``whsec_`` + base64 of 24 random bytes. During a rotation's overlap the ``webhook-signature``
header carries one signature per secret (space-separated), so a receiver still holding the old secret
verifies the message, and one that switched already verifies it too.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import secrets

from standardwebhooks.webhooks import Webhook


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@functools.lru_cache(maxsize=256)
def _signer(secret: str) -> Webhook:
    """One signer per secret (the secret is decoded once, not per delivery)."""
    return Webhook(secret)


def signature_header(*, secrets_: list[str], msg_id: str, timestamp: dt.datetime, body: str) -> str:
    return " ".join(_signer(secret).sign(msg_id, timestamp, body) for secret in secrets_ if secret)


def headers(*, secrets_: list[str], msg_id: str, timestamp: dt.datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(secrets_=secrets_, msg_id=msg_id, timestamp=timestamp, body=body),
    }
