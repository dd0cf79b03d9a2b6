"""Rules and services tests read the refusal messages in English.

The messages are translated (X-I18N), and the active language outside a request is the project's default,
Japanese; a test that checks a message's words runs in English. The pages choose their language per
request (the language cookie), whatever is active here, and the mails are Japanese by design.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    with translation.override("en"):
        yield
