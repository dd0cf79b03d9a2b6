"""The simulated carrier: a stand-in for docomo's and SoftBank's wholesale order systems.

**This is a simulator, not a carrier.** No carrier network can be reached from this project; the
simulator behaves the way the seed manuals describe the carriers so that everything on Kaisen's side of
the adapter interface (orders, engine, scheduler, mails) is real and testable:

- a request is recorded once per order reference (``KSN-<order id>``); a repeat is recognised
  (``submit_count`` goes up) and never applied a second time;
- it is carried out ``KAISEN_CARRIER_DELAY`` seconds after it was received (120 s by default, ``3600`` for
  "realistic" mode, ``0`` for benchmarks), and never before the carrier's hours: SoftBank suspend/resume
  from 10:00 JST ("10:00以降で受付から1時間以内"), so a request received at 9:30 completes at
  10:00 + delay;
- the carrier "carries out" a request the first time it is asked about it at or after its time
  (``query``), exactly once (``applied_count``), and answers with a result: a new ICCID for a SIM
  reissue, a reservation number and its expiry for an MNP reservation;
- it refuses or loses answers at random (``KAISEN_CARRIER_FAILURE_RATE``, ``KAISEN_CARRIER_TIMEOUT_RATE``),
  and tests inject faults deterministically through ``faults``.

Its state is the ``SimulatedCarrierRequest`` table in Kaisen's own database, written in the caller's
transaction: if Kaisen's transaction rolls back (a worker killed mid-send), the carrier "never received"
the request, which is the lost-in-transit case; the opposite case (the carrier has it, Kaisen never got
the answer) is a timeout after recording, which commits the record with Kaisen's UNKNOWN state.
See docs/carriers.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from kaisen.carriers.adapters import CarrierError, CarrierRequest, CarrierState, CarrierStatus, CarrierTimeout
from kaisen.carriers.models import Carrier, SimulatedCarrierRequest
from kaisen.core import calendar, clock
from kaisen.core.numbers import luhn_check_digit

log = logging.getLogger(__name__)

#: Carrier hours: (carrier, kind) -> the JST time before which a request is not carried out.
CARRIER_OPENS: dict[tuple[str, str], dt.time] = {
    (Carrier.SOFTBANK.value, "suspend"): dt.time(10, 0),
    (Carrier.SOFTBANK.value, "resume"): dt.time(10, 0),
}
MNP_RESERVATION_VALID_DAYS = 15  # an MNP reservation number is valid 15 days from issue (incl. the day)


@dataclass
class Faults:
    """Deterministic fault injection for tests: each entry is used once, keyed by order reference
    (``"*"`` matches the next request of any reference)."""

    refuse_submit: dict[str, tuple[str, str]] = field(default_factory=dict)
    timeout_before_recording: set[str] = field(default_factory=set)
    timeout_after_recording: set[str] = field(default_factory=set)
    timeout_query: set[str] = field(default_factory=set)
    fail_at_completion: dict[str, tuple[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self._lock:
            self.refuse_submit.clear()
            self.timeout_before_recording.clear()
            self.timeout_after_recording.clear()
            self.timeout_query.clear()
            self.fail_at_completion.clear()

    def _take(self, bucket: set[str] | dict[str, Any], ref: str) -> Any:
        return self._take_keyed(bucket, ref)[1]

    def _take_keyed(self, bucket: set[str] | dict[str, Any], ref: str) -> tuple[str | None, Any]:
        with self._lock:
            for key in (ref, "*"):
                if key in bucket:
                    if isinstance(bucket, dict):
                        return key, bucket.pop(key)
                    bucket.discard(key)
                    return key, True
        return None, None

    def _give_back(self, bucket: dict[str, Any], key: str, value: Any) -> None:
        """Put back an entry taken for a request that turned out not to use it (a repeated submit)."""
        with self._lock:
            bucket.setdefault(key, value)


#: Tests set faults here (``faults.timeout_after_recording.add("KSN-12")``) and call ``faults.reset()``.
faults = Faults()


def new_iccid_for(order_ref: str) -> str:
    """A new valid 19-digit ICCID, unique per order reference: 8981 99 + 12 digits + Luhn check digit."""
    serial = _ref_number(order_ref) % 10**12
    body = f"898199{serial:012d}"
    return body + str(luhn_check_digit(body))


def reservation_number_for(order_ref: str) -> str:
    """A 10-digit MNP reservation number derived from the order reference."""
    digest = int(hashlib.sha256(order_ref.encode()).hexdigest(), 16)
    return f"{digest % 9_000_000_000 + 1_000_000_000:010d}"


def _ref_number(order_ref: str) -> int:
    digits = "".join(ch for ch in order_ref if ch.isdigit())
    return int(digits) if digits else int(hashlib.sha256(order_ref.encode()).hexdigest(), 16)


def carried_out_from(carrier: str, kind: str, received: dt.datetime) -> dt.datetime:
    """When the carrier starts a request: at once, or at its opening time (SoftBank suspend/resume 10:00)."""
    opens = calendar.carrier_opening(carrier, CARRIER_OPENS.get((carrier, kind)), received)
    if opens is None:
        return received
    local = received.astimezone(clock.JST)
    opening = dt.datetime.combine(local.date(), opens, tzinfo=clock.JST)
    return max(received, opening)


def complete_after_for(carrier: str, kind: str, received: dt.datetime) -> dt.datetime:
    return carried_out_from(carrier, kind, received) + dt.timedelta(seconds=float(settings.KAISEN_CARRIER_DELAY))


def _status(req: SimulatedCarrierRequest) -> CarrierStatus:
    return CarrierStatus(state=CarrierState(req.state), result=dict(req.result), error_code=req.error_code,
                         error_message=req.error_message, expected_at=req.complete_after)


def _random_hit(rate: float) -> bool:
    return rate > 0 and random.random() < rate


class SimulatorAdapter:
    """``CarrierAdapter`` over ``SimulatedCarrierRequest`` (see the module docstring)."""

    def submit(self, request: CarrierRequest) -> CarrierStatus:
        ref = request.order_ref
        if faults._take(faults.timeout_before_recording, ref):
            raise CarrierTimeout(f"{ref}: no answer (the request never arrived)")
        timeout_rate = float(getattr(settings, "KAISEN_CARRIER_TIMEOUT_RATE", 0))
        lose_answer = bool(faults._take(faults.timeout_after_recording, ref))
        if not lose_answer and _random_hit(timeout_rate):
            if random.random() < 0.5:
                raise CarrierTimeout(f"{ref}: no answer (the request never arrived)")
            lose_answer = True
        now = clock.now()
        # A refusal is decided for a new request only; it is worked out first so that the request is recorded
        # (or recognised as a repeat) with one upsert (issue 11 §1: it was a SELECT … FOR UPDATE and a write).
        fault_key, refusal = faults._take_keyed(faults.refuse_submit, ref)
        if refusal is None and _random_hit(float(getattr(settings, "KAISEN_CARRIER_FAILURE_RATE", 0))):
            refusal = ("CARRIER_REFUSED", "The carrier refused the request (simulated).")
        req = _upsert(SimulatedCarrierRequest(
            order_ref=ref, carrier=request.carrier, kind=request.kind, line_ref=request.line_ref,
            payload={"msisdn": request.msisdn, "sim_type": request.sim_type, "params": request.params},
            state=CarrierState.FAILED if refusal else CarrierState.PENDING, received_at=now,
            complete_after=complete_after_for(request.carrier, request.kind, now),
            error_code=refusal[0] if refusal else "", error_message=refusal[1] if refusal else "",
            submit_count=1, applied_count=0, result={}))
        if req.submit_count > 1 and fault_key is not None:
            # A repeat: recognised by its reference, never a second application; the refusal was not for it.
            faults._give_back(faults.refuse_submit, fault_key, refusal)
        if lose_answer:
            raise CarrierTimeout(f"{ref}: no answer (the request was received)")
        if req.state == CarrierState.FAILED:
            raise CarrierError(req.error_code, req.error_message)
        return _status(req)

    def query(self, order_ref: str) -> CarrierStatus:
        if faults._take(faults.timeout_query, order_ref) or _random_hit(
                float(getattr(settings, "KAISEN_CARRIER_TIMEOUT_RATE", 0)) / 2):
            raise CarrierTimeout(f"{order_ref}: status query timed out")
        now = clock.now()
        if not faults.fail_at_completion:
            # The usual answer, a request due now carried out, is one UPDATE … RETURNING (issue 11 §1); any other
            # case (not due yet, already finished, unknown, a failure injected at completion) reads the row below.
            done = _carry_out_due(order_ref, now, {kind: self._result(kind, order_ref, now)
                                                   for kind in ("sim_reissue", "mnp_reservation", "")})
            if done is not None:
                return _status(done)
        with transaction.atomic(savepoint=False):  # no savepoint inside the engine's transaction
            req = SimulatedCarrierRequest.objects.select_for_update().filter(order_ref=order_ref).first()
            if req is None:
                return CarrierStatus(state=CarrierState.UNKNOWN)
            if req.state == CarrierState.PENDING and now >= req.complete_after:
                self._carry_out(req, now)
            elif req.state == CarrierState.COMPLETED:
                self._maybe_port_out(req, now)
        return _status(req)

    def cancel(self, order_ref: str) -> CarrierStatus:
        with transaction.atomic():
            req = SimulatedCarrierRequest.objects.select_for_update().filter(order_ref=order_ref).first()
            if req is None:
                return CarrierStatus(state=CarrierState.UNKNOWN)
            if req.state == CarrierState.PENDING and clock.now() >= req.complete_after:
                self._carry_out(req, clock.now())
            if req.state in (CarrierState.COMPLETED, CarrierState.FAILED):
                raise CarrierError("ALREADY_PROCESSED", f"{order_ref} was already {req.state}.")
            if req.state == CarrierState.PENDING:
                req.state = CarrierState.CANCELLED
                req.save(update_fields=["state"])
        return _status(req)

    # --- the carrier's own work ------------------------------------------------------------------

    def _carry_out(self, req: SimulatedCarrierRequest, now: dt.datetime) -> None:
        """PENDING -> COMPLETED (or FAILED), once: the caller holds the row lock."""
        failure = faults._take(faults.fail_at_completion, req.order_ref)
        if failure:
            req.state, req.error_code, req.error_message = CarrierState.FAILED, failure[0], failure[1]
            req.save(update_fields=["state", "error_code", "error_message"])
            return
        req.state = CarrierState.COMPLETED
        req.applied_count += 1
        req.result = self._result(req.kind, req.order_ref, now)
        req.save(update_fields=["state", "applied_count", "result"])

    def _result(self, kind: str, order_ref: str, now: dt.datetime) -> dict[str, Any]:
        """The result of a request of ``kind`` carried out at ``now``."""
        result: dict[str, Any] = {"completed_at": now.isoformat()}
        if kind == "sim_reissue":
            result["new_iccid"] = new_iccid_for(order_ref)
        elif kind == "mnp_reservation":
            issued = now.astimezone(clock.JST).date()
            expires = issued + dt.timedelta(days=MNP_RESERVATION_VALID_DAYS)
            result.update(reservation_number=reservation_number_for(order_ref), expires_on=expires.isoformat())
            port_out = getattr(settings, "KAISEN_CARRIER_PORT_OUT_DELAY", None) or os.environ.get(
                "KAISEN_CARRIER_PORT_OUT_DELAY")
            if port_out is not None:
                result["port_out_after"] = (now + dt.timedelta(seconds=float(port_out))).isoformat()
        return result

    def _maybe_port_out(self, req: SimulatedCarrierRequest, now: dt.datetime) -> None:
        """An issued MNP reservation whose holder ported the number out (simulated when
        ``KAISEN_CARRIER_PORT_OUT_DELAY`` is set): the result gains ``ported_out``."""
        after = req.result.get("port_out_after")
        if req.kind != "mnp_reservation" or not after or req.result.get("ported_out"):
            return
        if now >= dt.datetime.fromisoformat(after):
            req.result = {**req.result, "ported_out": True, "ported_out_at": now.isoformat()}
            req.save(update_fields=["result"])


# --- one statement per request (issue 11 §1) -------------------------------------------------------------

_COLUMNS = ("order_ref", "carrier", "kind", "line_ref", "payload", "state", "received_at", "complete_after",
            "submit_count", "applied_count", "result", "error_code", "error_message")


def _field(name: str) -> models.Field[Any, Any]:
    field = SimulatedCarrierRequest._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _col(name: str) -> str:
    return connection.ops.quote_name(_field(name).column or name)


def _sql_names() -> tuple[str, str, str]:
    """(table, the columns written by an insert, the columns returned) — quoted."""
    columns = ", ".join(_col(name) for name in _COLUMNS)
    return connection.ops.quote_name(SimulatedCarrierRequest._meta.db_table), columns, f"{_col('id')}, {columns}"


def _param(name: str, value: Any) -> Any:
    return _field(name).get_db_prep_save(value, connection)


def _one_row(sql: str, params: list[Any]) -> SimulatedCarrierRequest | None:
    rows = list(SimulatedCarrierRequest.objects.raw(sql, params))
    return rows[0] if rows else None


def _upsert(req: SimulatedCarrierRequest) -> SimulatedCarrierRequest:
    """Record ``req``, or count a repeat of its reference (``submit_count`` + 1, nothing else changes): one
    ``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` (SQLite ≥ 3.35 and PostgreSQL). The row returned is the
    recorded request; ``submit_count`` > 1 says it was a repeat."""
    table, columns, returned = _sql_names()
    count = _col("submit_count")
    sql = (f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLUMNS))}) "  # noqa: S608
           f"ON CONFLICT ({_col('order_ref')}) "
           f"DO UPDATE SET {count} = {table}.{count} + 1 RETURNING {returned}")
    row = _one_row(sql, [_param(name, getattr(req, name)) for name in _COLUMNS])
    assert row is not None  # an upsert always returns its row
    return row


def _carry_out_due(order_ref: str, now: dt.datetime, results: dict[str, dict[str, Any]]
                   ) -> SimulatedCarrierRequest | None:
    """PENDING → COMPLETED, once (``applied_count`` + 1), if the request is due at ``now``: one
    ``UPDATE … RETURNING`` whose result is chosen by the request's kind from ``results`` (the key ``""`` for
    the other kinds). None when no request of that reference is pending and due."""
    table, _, returned = _sql_names()
    col = {name: _col(name) for name in _COLUMNS}
    kinds = [kind for kind in results if kind]
    whens = " ".join(f"WHEN {col['kind']} = %s THEN %s" for _ in kinds)
    sql = (f"UPDATE {table} SET {col['state']} = %s, {col['applied_count']} = {col['applied_count']} + 1, "  # noqa: S608
           f"{col['result']} = CASE {whens} ELSE %s END "
           f"WHERE {col['order_ref']} = %s AND {col['state']} = %s AND {col['complete_after']} <= %s "
           f"RETURNING {returned}")
    params: list[Any] = [CarrierState.COMPLETED.value]
    for kind in kinds:
        params += [kind, _param("result", results[kind])]
    params += [_param("result", results[""]), order_ref, CarrierState.PENDING.value, _param("complete_after", now)]
    return _one_row(sql, params)
