from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.events.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def allow_local() -> Iterator[None]:
    """The receiver is on 127.0.0.1: allowed only by the explicit development/test setting."""
    with override_settings(KAISEN_WEBHOOK_ALLOW_PRIVATE=True, KAISEN_WEBHOOK_TIMEOUT_SECONDS=5.0):
        yield
