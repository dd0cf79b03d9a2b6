"""Secrets that are shown once and kept only as a digest: API key secrets, bearer tokens, single-use links
(login email change) and SIM transfer tokens. The stored value is the SHA-256 of the secret; a lookup hashes
what it is given and compares digests."""

from __future__ import annotations

import hashlib
import secrets


def secret_digest(value: str) -> str:
    """The hex SHA-256 that is stored in place of ``value``."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_link_token() -> tuple[str, str]:
    """A fresh URL-safe single-use token (256 bits) and the digest to store."""
    token = secrets.token_urlsafe(32)
    return token, secret_digest(token)
