"""The payment-provider interface and its SIMULATOR adapter (issue 4 §5, S-PAY-1, S-PAY-2).

Kaisen never stores a card number: the provider tokenises the card and Kaisen keeps the token, brand,
last 4 digits and expiry. A charge is idempotent, keyed by the invoice: a second charge with the key of an
invoice the provider has already collected returns that charge instead of charging again (a declined
attempt does not use the key up, so a retry after updating the card can succeed). A refund names the charge
it gives back (all or part of it) and is idempotent the same way: a second refund with the key of a refund
that went through returns that refund. The provider may refuse a refund (``RefundResult.succeeded`` False).

``SimulatorProvider`` is the only adapter in this repository. It is NOT a payment service: no money
moves. It behaves like real providers' test modes, deterministically by test card number
(``TEST_CARDS``), and keeps its own ledger in ``SimulatedCard`` / ``SimulatedCharge`` (what a real
provider holds on its side). A real adapter implements ``PaymentProvider`` and is chosen with the setting
``KAISEN_PAYMENT_PROVIDER`` (a dotted path; default the simulator).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from kaisen.core.numbers import luhn_check_digit
from kaisen.payments.models import CardBrand, CardFunding, SimulatedCard, SimulatedCharge, SimulatedRefund


class CardRefused(Exception):
    """The provider would not tokenise the card (bad number, expired, CVC)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # invalid_number | invalid_expiry | expired_card | invalid_cvc
        super().__init__(reason)


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    funding: str  # credit | debit | prepaid
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ChargeResult:
    charge_id: str
    succeeded: bool
    failure_code: str = ""  # card_declined | insufficient_funds | expired_card | processing_error
    replayed: bool = False  # the key had already been collected: this is that charge, nothing new was charged


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    succeeded: bool
    #: charge_not_found | currency_mismatch | amount_exceeds_charge | invalid_amount | refund_declined |
    #: processing_error
    failure_code: str = ""
    replayed: bool = False  # the key had already been refunded: this is that refund, nothing new was refunded


class PaymentProvider(Protocol):
    name: str
    is_simulator: bool

    def tokenize_card(self, *, number: str, exp_month: int, exp_year: int, cvc: str, today: dt.date) -> CardToken:
        ...

    def charge(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str,
               today: dt.date) -> ChargeResult:
        ...

    def refund(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str,
               today: dt.date) -> RefundResult:
        """Give back ``amount`` (at most what is left of the charge) of the succeeded charge ``charge_id``."""
        ...


# --- the simulator -----------------------------------------------------------------------------------

#: Test card numbers (the numbers the big providers publish for their test modes) and what they do.
TEST_CARDS: dict[str, tuple[str, str, str]] = {
    # number: (brand, funding, behaviour at charge time)
    "4242424242424242": (CardBrand.VISA, CardFunding.CREDIT, "succeed"),
    "5555555555554444": (CardBrand.MASTERCARD, CardFunding.CREDIT, "succeed"),
    "3566002020360505": (CardBrand.JCB, CardFunding.CREDIT, "succeed"),
    "378282246310005": (CardBrand.AMEX, CardFunding.CREDIT, "succeed"),
    "4000000000000002": (CardBrand.VISA, CardFunding.CREDIT, "card_declined"),
    "4000000000009995": (CardBrand.VISA, CardFunding.CREDIT, "insufficient_funds"),
    "4000000000000069": (CardBrand.VISA, CardFunding.CREDIT, "expired_card"),
    "4000056655665556": (CardBrand.VISA, CardFunding.DEBIT, "succeed"),
    "5200828282828210": (CardBrand.MASTERCARD, CardFunding.DEBIT, "succeed"),
    "5105105105105100": (CardBrand.MASTERCARD, CardFunding.PREPAID, "succeed"),
    "4000000000005126": (CardBrand.VISA, CardFunding.CREDIT, "refund_fails"),  # charges succeed, refunds fail
}
#: What the card form shows in simulator mode.
TEST_CARD_HINTS: list[tuple[str, Any]] = [
    ("4242 4242 4242 4242", _("VISA — charges succeed")),
    ("3566 0020 2036 0505", _("JCB — charges succeed (Japan coverage only)")),
    ("4000 0000 0000 0002", _("VISA — charges are declined")),
    ("4000 0000 0000 9995", _("VISA — declined: limit exceeded")),
    ("4000 0000 0000 0069", _("VISA — charges fail: card expired")),
    ("4000 0000 0000 5126", _("VISA — charges succeed, refunds fail")),
    ("4000 0566 5566 5556", _("VISA debit — refused at registration")),
    ("5105 1051 0510 5100", _("Mastercard prepaid — refused at registration")),
]


def luhn_ok(number: str) -> bool:
    """A card number (digits only) whose last digit is the Luhn check digit of the rest."""
    return luhn_check_digit(number[:-1]) == int(number[-1])


def brand_of(number: str) -> str:
    """The brand by the number's prefix (IIN ranges)."""
    if number.startswith("4"):
        return CardBrand.VISA
    two, four = int(number[:2]), int(number[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return CardBrand.MASTERCARD
    if two in (34, 37):
        return CardBrand.AMEX
    if 3528 <= four <= 3589:
        return CardBrand.JCB
    if two in (30, 36, 38, 39):
        return CardBrand.DINERS
    if number.startswith(("6011", "65")):
        return CardBrand.DISCOVER
    return CardBrand.UNKNOWN


def card_expired(exp_month: int, exp_year: int, today: dt.date) -> bool:
    """A card is valid to the end of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)


class SimulatorProvider:
    """SIMULATOR adapter: deterministic by test card number; no money moves. See the module docstring."""

    name = "simulator"
    is_simulator = True

    def tokenize_card(self, *, number: str, exp_month: int, exp_year: int, cvc: str, today: dt.date) -> CardToken:
        number = "".join(ch for ch in number if ch.isdigit())
        if not 13 <= len(number) <= 19 or not luhn_ok(number):
            raise CardRefused("invalid_number")
        if not 1 <= exp_month <= 12 or not 2000 <= exp_year <= 2100:
            raise CardRefused("invalid_expiry")
        if card_expired(exp_month, exp_year, today):
            raise CardRefused("expired_card")
        brand, funding, behaviour = TEST_CARDS.get(number, (brand_of(number), CardFunding.CREDIT, "succeed"))
        if not cvc.isdigit() or len(cvc) != (4 if brand == CardBrand.AMEX else 3):
            raise CardRefused("invalid_cvc")
        card = SimulatedCard.objects.create(token="tok_sim_" + secrets.token_hex(12), brand=brand, funding=funding,
                                            last4=number[-4:], exp_month=exp_month, exp_year=exp_year,
                                            behaviour=behaviour)
        return CardToken(token=card.token, brand=brand, funding=funding, last4=card.last4, exp_month=exp_month,
                         exp_year=exp_year)

    def charge(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str,
               today: dt.date) -> ChargeResult:
        done = SimulatedCharge.objects.filter(idempotency_key=idempotency_key, status="succeeded").first()
        if done is not None:
            return ChargeResult(charge_id=done.charge_id, succeeded=True, replayed=True)
        card = SimulatedCard.objects.filter(token=token).first()
        if card is None:
            failure = "processing_error"
        elif card_expired(card.exp_month, card.exp_year, today) or card.behaviour == "expired_card":
            failure = "expired_card"
        elif card.behaviour in ("card_declined", "insufficient_funds"):
            failure = card.behaviour
        else:
            failure = ""
        charge_id = "ch_sim_" + secrets.token_hex(10)
        try:
            with transaction.atomic():
                SimulatedCharge.objects.create(charge_id=charge_id, idempotency_key=idempotency_key, card_token=token,
                                               amount=amount, currency=currency,
                                               status="failed" if failure else "succeeded", failure_code=failure)
        except IntegrityError:  # the same key collected concurrently: that charge stands, this one never happened
            done = SimulatedCharge.objects.get(idempotency_key=idempotency_key, status="succeeded")
            return ChargeResult(charge_id=done.charge_id, succeeded=True, replayed=True)
        return ChargeResult(charge_id=charge_id, succeeded=not failure, failure_code=failure)

    def refund(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str,
               today: dt.date) -> RefundResult:
        done = SimulatedRefund.objects.filter(idempotency_key=idempotency_key, status="succeeded").first()
        if done is not None:
            return RefundResult(refund_id=done.refund_id, succeeded=True, replayed=True)
        charge = SimulatedCharge.objects.filter(charge_id=charge_id, status="succeeded").first()
        if charge is None:
            failure = "charge_not_found"
        elif charge.currency != currency:
            failure = "currency_mismatch"
        elif amount <= 0:
            failure = "invalid_amount"
        else:
            refunded = sum((r.amount for r in SimulatedRefund.objects.filter(charge_id=charge_id,
                                                                             status="succeeded")), Decimal(0))
            card = SimulatedCard.objects.filter(token=charge.card_token).first()
            if amount > charge.amount - refunded:
                failure = "amount_exceeds_charge"
            elif card is not None and card.behaviour == "refund_fails":
                failure = "refund_declined"
            else:
                failure = ""
        refund_id = "re_sim_" + secrets.token_hex(10)
        try:
            with transaction.atomic():
                SimulatedRefund.objects.create(refund_id=refund_id, charge_id=charge_id,
                                               idempotency_key=idempotency_key, amount=amount, currency=currency,
                                               status="failed" if failure else "succeeded", failure_code=failure)
        except IntegrityError:  # the same key refunded concurrently: that refund stands
            done = SimulatedRefund.objects.get(idempotency_key=idempotency_key, status="succeeded")
            return RefundResult(refund_id=done.refund_id, succeeded=True, replayed=True)
        return RefundResult(refund_id=refund_id, succeeded=not failure, failure_code=failure)


def get_provider() -> PaymentProvider:
    path = getattr(settings, "KAISEN_PAYMENT_PROVIDER", "kaisen.payments.provider.SimulatorProvider")
    provider: PaymentProvider = import_string(path)()
    return provider
