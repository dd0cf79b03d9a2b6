"""The carrier side, behind one interface.

A real MVNO talks to docomo, SoftBank and au through their wholesale order systems. Those cannot be
reached from here, so Kaisen ships a **simulator adapter** (``kaisen.carriers.simulator``) that behaves
as the seed manuals describe — asynchronous completion, carrier-specific hours, refusals and timeouts.
Everything on Kaisen's side of this interface is real; swapping the simulator for a real adapter is a
setting (``KAISEN_CARRIER_ADAPTER``).

Every request carries the order's own reference (``order_ref``), so a repeated request is recognised by
the carrier side and never applied twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class CarrierError(Exception):
    """The carrier refused the request (final): ``code`` and ``message`` say why."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class CarrierTimeout(Exception):
    """No answer in time: the request may or may not have reached the carrier. Resolve with ``query``."""


class CarrierState(StrEnum):
    UNKNOWN = "unknown"  # the carrier has never seen this order_ref
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CarrierRequest:
    order_ref: str
    carrier: str
    kind: str
    line_ref: str  # the line's ICCID at the carrier
    msisdn: str | None
    sim_type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CarrierStatus:
    state: CarrierState
    result: dict[str, Any] = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""
    expected_at: dt.datetime | None = None


class CarrierAdapter(Protocol):
    def submit(self, request: CarrierRequest) -> CarrierStatus:
        """Send (or re-send) a request. Returns its state; raises CarrierError or CarrierTimeout."""

    def query(self, order_ref: str) -> CarrierStatus:
        """The carrier's view of a request; ``UNKNOWN`` if it never arrived. Raises CarrierTimeout."""

    def cancel(self, order_ref: str) -> CarrierStatus:
        """Withdraw a request the carrier has not carried out yet. Raises CarrierError if too late."""


def get_adapter() -> CarrierAdapter:
    path = getattr(settings, "KAISEN_CARRIER_ADAPTER", "kaisen.carriers.simulator.SimulatorAdapter")
    return import_string(path)()  # type: ignore[no-any-return]
