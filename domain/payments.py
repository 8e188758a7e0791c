"""Payments: one `Payment` per order, an event-sourced ledger of what was asked of the
provider and what it answered.

Every operation that moves money is recorded as an intent first ("capturing", "voiding",
a refund under way) and only then asked of the provider, by a gateway worker, under a key
stable for the operation (`domain/calls.py`). The intent is what makes the state machine
strict: once a capture is asked for, a void is refused, and the other way round, so two
racing passes of the saga can never send both to the provider. The answer is recorded when
it comes back. Net captured is 0 or the order total (invariant I1).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from uuid import UUID

from domain.calls import Call
from domain.commands import Command
from domain.errors import PaymentStateError, RefundExceedsCaptureError
from domain.ids import payment_id
from domain.money import Money
from domain.privacy import Sealed
from domain.tracing import Trace, TracedAggregate


class PaymentStatus(StrEnum):
    REQUESTED = "requested"  # authorization asked of the provider, answer pending
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    CAPTURING = "capturing"  # capture asked, answer pending
    CAPTURED = "captured"
    VOIDING = "voiding"  # void asked, answer pending
    VOIDED = "voided"
    REFUNDED = "refunded"  # everything captured was given back


@dataclass(frozen=True, kw_only=True)
class AuthorizePayment(Command):
    order_id: UUID
    amount: Money
    token: Sealed  # the card token, sealed under the customer's key (privacy.py)


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


@dataclass(frozen=True, kw_only=True)
class RecordProviderAnswer(Command):
    """What the provider answered to one call (issued by the gateway worker)."""

    order_id: UUID
    call_id: str
    operation: str  # authorize, capture, void, refund
    status: Literal["approved", "declined"]
    reference: str = ""
    reason: str = ""


class Payment(TracedAggregate):
    natural_key = "order_id"

    class Event(TracedAggregate.Event):
        order_id: str

    class Requested(TracedAggregate.Created):
        TOPIC = "PaymentRequested.v1"
        order_id: str
        amount: Money

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

    class CaptureRequested(Event):
        TOPIC = "PaymentCaptureRequested.v1"

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.CAPTURING

    class Captured(Event):
        TOPIC = "PaymentCaptured.v1"
        amount: Money

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.CAPTURED
            payment.captured = self.amount

    class VoidRequested(Event):
        TOPIC = "PaymentVoidRequested.v1"

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.VOIDING

    class Voided(Event):
        TOPIC = "PaymentVoided.v1"

        def apply(self, payment: "Payment") -> None:
            payment.status = PaymentStatus.VOIDED

    class RefundRequested(Event):
        TOPIC = "PaymentRefundRequested.v1"
        call_id: str
        amount: Money

        def apply(self, payment: "Payment") -> None:
            payment.refunds[self.call_id] = self.amount

    class Refunded(Event):
        TOPIC = "PaymentRefunded.v1"
        call_id: str
        amount: Money

        def apply(self, payment: "Payment") -> None:
            del payment.refunds[self.call_id]
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
        self.refunds: dict[str, Money] = {}  # refunds asked for and not answered yet, by call id

    @classmethod
    def request(cls, order_id: UUID, amount: Money, token: Sealed, trace: Trace) -> tuple["Payment", Call]:
        """A new payment and the authorization to ask the provider for. The card token goes,
        sealed, only into the call: the ledger keeps no card data."""
        payment = cls._start(
            cls.Requested, payment_id(order_id), trace, order_id=str(order_id), amount=amount
        )
        return payment, payment._call("authorize", trace, token=token.as_json(), **_money(amount))

    @property
    def net_captured(self) -> Money:
        return self.captured - self.refunded

    @property
    def refundable(self) -> Money:
        """What may still be refunded: captured, less refunded and refunds under way."""
        pending = sum((amount.cents for amount in self.refunds.values()), 0)
        return Money(self.net_captured.cents - pending, self.amount.currency)

    def authorize(self, provider_ref: str, trace: Trace) -> None:
        if self.status is not PaymentStatus.REQUESTED:
            return  # answered before: the first answer stands
        self._record(self.Authorized, trace, provider_ref=provider_ref)

    def decline(self, reason: str, trace: Trace) -> None:
        if self.status is PaymentStatus.REQUESTED:
            self._record(self.Declined, trace, reason=reason)

    def request_capture(self, trace: Trace) -> Call | None:
        """Ask for the capture of the authorized amount; refused once a void is asked for."""
        if self.status in (PaymentStatus.CAPTURING, PaymentStatus.CAPTURED):
            return None
        self._check(PaymentStatus.AUTHORIZED, "capture")
        self._record(self.CaptureRequested, trace)
        return self._call("capture", trace, reference=self.provider_ref, **_money(self.amount))

    def capture(self, trace: Trace) -> None:
        if self.status is PaymentStatus.CAPTURING:
            self._record(self.Captured, trace, amount=self.amount)

    def request_void(self, trace: Trace) -> Call | None:
        """Ask for the authorization to be released; refused once a capture is asked for."""
        if self.status in (PaymentStatus.VOIDING, PaymentStatus.VOIDED):
            return None
        self._check(PaymentStatus.AUTHORIZED, "void")
        self._record(self.VoidRequested, trace)
        return self._call("void", trace, reference=self.provider_ref)

    def void(self, trace: Trace) -> None:
        if self.status is PaymentStatus.VOIDING:
            self._record(self.Voided, trace)

    def request_refund(self, amount: Money, trace: Trace) -> Call:
        """Give back part or all of what was captured, never more than is left to refund.
        Each refund is its own operation at the provider, keyed by the command asking."""
        self._check(PaymentStatus.CAPTURED, "refund")
        self.amount.check_same_currency(amount)
        if amount.cents == 0 or amount.cents > self.refundable.cents:
            raise RefundExceedsCaptureError(
                f"refund of {amount} exceeds what is refundable, {self.refundable}"
            )
        call = self._call(f"refund:{trace.command_id}", trace, reference=self.provider_ref, **_money(amount))
        self._record(self.RefundRequested, trace, call_id=call.call_id, amount=amount)
        return call

    def refund(self, call_id: str, trace: Trace) -> None:
        if call_id in self.refunds:
            self._record(self.Refunded, trace, call_id=call_id, amount=self.refunds[call_id])

    def _call(self, operation: str, trace: Trace, **request: object) -> Call:
        request["order_id"] = self.order_id
        return Call.decided(f"{self.id}:{operation}", operation.partition(":")[0], trace, **request)

    def _check(self, required: PaymentStatus, operation: str) -> None:
        if self.status is not required:
            raise PaymentStateError(f"cannot {operation} a payment that is {self.status}")


def _money(amount: Money) -> dict[str, object]:
    return {"amount_cents": amount.cents, "currency": amount.currency}
