"""Payments: one `Payment` per order, an event-sourced ledger of what the provider did.

The provider is outside the transaction, so its answer can be lost: `mark_outcome_unknown`
records that, and only asking the provider (with the same idempotency key) resolves it.
Net captured is 0 or the order total (invariant I1).
"""

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.commands import Command
from domain.errors import PaymentStateError, RefundExceedsCaptureError
from domain.ids import payment_id
from domain.money import Money
from domain.tracing import Trace, TracedAggregate


class PaymentStatus(StrEnum):
    REQUESTED = "requested"
    UNKNOWN = "unknown"
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"


OPEN = {PaymentStatus.REQUESTED, PaymentStatus.UNKNOWN}


@dataclass(frozen=True, kw_only=True)
class AuthorizePayment(Command):
    order_id: UUID
    amount: Money
    token: str


@dataclass(frozen=True, kw_only=True)
class CapturePayment(Command):
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class VoidPayment(Command):
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class RefundPayment(Command):
    order_id: UUID
    amount: Money


class Payment(TracedAggregate):
    natural_key = "order_id"

    class Event(TracedAggregate.Event):
        order_id: str

    class Requested(TracedAggregate.Created):
        TOPIC = "PaymentRequested.v1"
        order_id: str
        amount: Money

    class OutcomeUnknown(Event):
        TOPIC = "PaymentOutcomeUnknown.v1"
        operation: str

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.UNKNOWN

    class Authorized(Event):
        TOPIC = "PaymentAuthorized.v1"
        provider_ref: str

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.AUTHORIZED
            payment.provider_ref = self.provider_ref

    class Declined(Event):
        TOPIC = "PaymentDeclined.v1"
        reason: str

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.DECLINED

    class Captured(Event):
        TOPIC = "PaymentCaptured.v1"
        amount: Money

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.CAPTURED
            payment.captured = self.amount

    class Voided(Event):
        TOPIC = "PaymentVoided.v1"

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.VOIDED

    class Refunded(Event):
        TOPIC = "PaymentRefunded.v1"
        amount: Money

        def apply(self, payment: "Payment") -> None:
            payment.refunded = payment.refunded + self.amount
            if payment.refunded == payment.captured:
                payment.status = PaymentStatus.REFUNDED

    def __init__(self, order_id: str, amount: Money) -> None:
        self.order_id = order_id
        self.amount = amount
        self.status = PaymentStatus.REQUESTED
        self.provider_ref = ""
        self.captured = Money.zero(amount.currency)
        self.refunded = Money.zero(amount.currency)

    @classmethod
    def request(cls, order_id: UUID, amount: Money, trace: Trace) -> "Payment":
        return cls._start(cls.Requested, payment_id(order_id), trace, order_id=str(order_id), amount=amount)

    @property
    def net_captured(self) -> Money:
        return self.captured - self.refunded

    def mark_outcome_unknown(self, operation: str, trace: Trace) -> None:
        """The provider's answer was lost; the payment stays open until it is asked again."""
        if self.status is PaymentStatus.REQUESTED:
            self._record(self.OutcomeUnknown, trace, operation=operation)

    def authorize(self, provider_ref: str, trace: Trace) -> None:
        if self.status is PaymentStatus.AUTHORIZED or self.status is PaymentStatus.CAPTURED:
            return
        self._check_open("authorize")
        self._record(self.Authorized, trace, provider_ref=provider_ref)

    def decline(self, reason: str, trace: Trace) -> None:
        if self.status is PaymentStatus.DECLINED:
            return
        self._check_open("decline")
        self._record(self.Declined, trace, reason=reason)

    def capture(self, trace: Trace) -> None:
        if self.status is PaymentStatus.CAPTURED:
            return
        self._check_status(PaymentStatus.AUTHORIZED, "capture")
        self._record(self.Captured, trace, amount=self.amount)

    def void(self, trace: Trace) -> None:
        if self.status is PaymentStatus.VOIDED:
            return
        self._check_status(PaymentStatus.AUTHORIZED, "void")
        self._record(self.Voided, trace)

    def check_refundable(self, amount: Money) -> None:
        """Refund part or all of what was captured; never more than the net captured."""
        self._check_status(PaymentStatus.CAPTURED, "refund")
        self.amount.check_same_currency(amount)
        if amount.cents == 0 or amount.cents > self.net_captured.cents:
            raise RefundExceedsCaptureError(f"refund of {amount} exceeds net captured {self.net_captured}")

    def refund(self, amount: Money, trace: Trace) -> None:
        self.check_refundable(amount)
        self._record(self.Refunded, trace, amount=amount)

    def _check_open(self, operation: str) -> None:
        if self.status not in OPEN:
            raise PaymentStateError(f"cannot {operation} a payment that is {self.status}")

    def _check_status(self, required: PaymentStatus, operation: str) -> None:
        if self.status is not required:
            raise PaymentStateError(f"cannot {operation} a payment that is {self.status}")
