"""The payments context: one payment per order, and every question it asks the provider.

Its commands never call the provider. Each records the payment's intent and returns the
call to make (`domain/calls.py`); a gateway worker performs it through `ask` and feeds the
answer back as `RecordProviderAnswer`. Provider idempotency keys are the call ids,
`<payment id>:<operation>` (refunds add the command id, since two refunds of one payment are
two operations), so any retry, replay or redelivery asks the provider the same question and
cannot charge twice.
"""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.asking import asking
from domain.calls import Call, CallRefusedError
from domain.errors import UnknownPaymentError
from domain.ids import payment_id
from domain.money import Money
from domain.payments import (
    AuthorizePayment,
    CapturePayment,
    Payment,
    RecordProviderAnswer,
    RefundPayment,
    VoidPayment,
)
from domain.ports import PaymentProvider, ProviderReply
from domain.privacy import PersonalDataErasedError, Sealed, Vault
from services.application import Decision, Handler
from services.context import ContextApplication


class PaymentsService(ContextApplication):
    name = "Payments"

    def __init__(self, provider: PaymentProvider, vault: Vault, env: dict[str, Any] | None = None) -> None:
        """`vault` opens the card token, sealed by the order, just before the provider is asked."""
        super().__init__(env)
        self.provider = provider
        self.vault = vault

    def handlers(self) -> dict[type, Handler]:
        return {
            AuthorizePayment: self.authorize,
            CapturePayment: self.capture,
            VoidPayment: self.void,
            RefundPayment: self.refund,
            RecordProviderAnswer: self.record_answer,
        }

    def authorize(self, command: AuthorizePayment) -> Decision:
        """The first authorization of an order creates its payment and asks the provider; any
        later one finds the payment and asks nothing new."""
        try:
            return self._decided(self.payment_of(command.order_id))
        except UnknownPaymentError:
            payment, call = Payment.request(command.order_id, command.amount, command.token, command.trace)
            return self._decided(payment, call)

    def capture(self, command: CapturePayment) -> Decision:
        payment = self.payment_of(command.order_id)
        return self._decided(payment, payment.request_capture(command.trace))

    def void(self, command: VoidPayment) -> Decision:
        payment = self.payment_of(command.order_id)
        return self._decided(payment, payment.request_void(command.trace))

    def refund(self, command: RefundPayment) -> Decision:
        payment = self.payment_of(command.order_id)
        return self._decided(payment, payment.request_refund(command.amount, command.trace))

    def record_answer(self, command: RecordProviderAnswer) -> Decision:
        payment, trace = self.payment_of(command.order_id), command.trace
        answers: dict[str, Callable[[], None]] = {
            "authorize": lambda: (
                payment.authorize(command.reference, trace)
                if command.status == "approved"
                else payment.decline(command.reason, trace)
            ),
            "capture": lambda: payment.capture(trace),
            "void": lambda: payment.void(trace),
            "refund": lambda: payment.refund(command.call_id, trace),
        }
        answers[command.operation]()
        return Decision([payment], self._result(payment), answered=(command.call_id,))

    def ask(self, call: Call) -> RecordProviderAnswer:
        """Put one call to the provider and return the command recording its answer. Raises
        the provider's timeout when the answer is unknown, and `CallRefusedError` when the
        provider refuses an operation the payment's state allowed (a drift to look at)."""
        asked: dict[str, Callable[[str, Any], ProviderReply]] = {
            "authorize": self._authorize,
            "capture": lambda key, r: self.provider.capture(
                idempotency_key=key, reference=r["reference"], amount=_amount(r)
            ),
            "void": lambda key, r: self.provider.void(idempotency_key=key, reference=r["reference"]),
            "refund": lambda key, r: self.provider.refund(
                idempotency_key=key, reference=r["reference"], amount=_amount(r)
            ),
        }
        with asking(call):  # the HTTP client says where the call comes from (domain/asking.py)
            reply = asked[call.operation](call.call_id, call.request)
        answerable = reply.status == "approved" or (call.operation, reply.status) == ("authorize", "declined")
        if not answerable:
            raise CallRefusedError(f"provider refused {call.operation} {call.call_id}: {reply.reason}")
        return RecordProviderAnswer(
            command_id=call.answer_id,
            correlation_id=call.correlation_id,
            causation_id=call.call_id,
            order_id=UUID(call.request["order_id"]),
            call_id=call.call_id,
            operation=call.operation,
            status="approved" if reply.status == "approved" else "declined",
            reference=reply.reference,
            reason=reply.reason,
        )

    def _authorize(self, key: str, request: Any) -> ProviderReply:
        try:
            token = self.vault.open(Sealed.from_json(request["token"]))
        except PersonalDataErasedError:  # the customer was forgotten: there is no card to charge
            return ProviderReply(status="declined", reference="", reason="the customer's data was erased")
        return self.provider.authorize(
            idempotency_key=key, amount=_amount(request), token=token, order_id=request["order_id"]
        )

    def payment_of(self, order_id: Any) -> Payment:
        return self.load(payment_id(order_id), Payment, UnknownPaymentError)

    def _decided(self, payment: Payment, call: Call | None = None) -> Decision:
        return Decision([payment], self._result(payment), calls=(call,) if call else ())

    @staticmethod
    def _result(payment: Payment) -> dict[str, Any]:
        return {
            "payment_id": str(payment.id),
            "status": payment.status.value,
            "captured_cents": payment.captured.cents,
            "refunded_cents": payment.refunded.cents,
        }


def _amount(request: Any) -> Money:
    return Money(request["amount_cents"], request["currency"])
