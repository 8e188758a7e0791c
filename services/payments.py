"""The payments context: one payment per order and every call to the provider it made.

Provider idempotency keys are `<payment id>:<operation>` (refunds add the command id, since
two refunds of one payment are two operations), so any retry, replay or redelivery asks the
provider the same question and cannot charge twice.
"""

from collections.abc import Callable
from typing import Any

from domain.errors import RuleViolationError, UnknownPaymentError
from domain.ids import payment_id
from domain.payments import (
    AuthorizePayment,
    CapturePayment,
    Payment,
    PaymentStatus,
    RefundPayment,
    VoidPayment,
)
from domain.ports import PaymentProvider, ProviderReply, ProviderTimeoutError
from domain.tracing import Trace
from infrastructure.faults.crash_points import crash_point
from services.application import Decision, Handler
from services.context import ContextApplication


class PaymentOutcomeUnknownError(Exception):
    """The provider did not answer; the payment is marked unknown and the same command,
    retried later, asks the provider again with the same key."""


class PaymentsService(ContextApplication):
    name = "Payments"

    def __init__(self, provider: PaymentProvider, env: dict[str, Any] | None = None) -> None:
        super().__init__(env)
        self.provider = provider

    def handlers(self) -> dict[type, Handler]:
        return {
            AuthorizePayment: self.authorize,
            CapturePayment: self.capture,
            VoidPayment: self.void,
            RefundPayment: self.refund,
        }

    def authorize(self, command: AuthorizePayment) -> Decision:
        payment = self._find(command) or Payment.request(command.order_id, command.amount, command.trace)
        if payment.status in (PaymentStatus.REQUESTED, PaymentStatus.UNKNOWN):
            reply = self._ask(
                payment,
                "authorize",
                command.trace,
                lambda key: self.provider.authorize(
                    idempotency_key=key,
                    amount=payment.amount,
                    token=command.token,
                    order_id=str(command.order_id),
                ),
            )
            if reply.status == "approved":
                payment.authorize(reply.reference, command.trace)
            else:
                payment.decline(reply.reason, command.trace)
        return self._decided(payment)

    def capture(self, command: CapturePayment) -> Decision:
        payment = self.payment_of(command.order_id)
        if payment.status is PaymentStatus.AUTHORIZED:
            self._check_approved(
                self._ask(
                    payment,
                    "capture",
                    command.trace,
                    lambda key: self.provider.capture(
                        idempotency_key=key, reference=payment.provider_ref, amount=payment.amount
                    ),
                )
            )
        payment.capture(command.trace)
        return self._decided(payment)

    def void(self, command: VoidPayment) -> Decision:
        payment = self.payment_of(command.order_id)
        if payment.status is PaymentStatus.AUTHORIZED:
            self._check_approved(
                self._ask(
                    payment,
                    "void",
                    command.trace,
                    lambda key: self.provider.void(idempotency_key=key, reference=payment.provider_ref),
                )
            )
        payment.void(command.trace)
        return self._decided(payment)

    def refund(self, command: RefundPayment) -> Decision:
        payment = self.payment_of(command.order_id)
        payment.check_refundable(command.amount)  # the rule holds before any money moves
        self._check_approved(
            self._ask(
                payment,
                f"refund:{command.command_id}",
                command.trace,
                lambda key: self.provider.refund(
                    idempotency_key=key, reference=payment.provider_ref, amount=command.amount
                ),
            )
        )
        payment.refund(command.amount, command.trace)
        return self._decided(payment)

    def payment_of(self, order_id: Any) -> Payment:
        return self.load(payment_id(order_id), Payment, UnknownPaymentError)

    def _find(self, command: AuthorizePayment) -> Payment | None:
        try:
            return self.payment_of(command.order_id)
        except UnknownPaymentError:
            return None

    def _ask(
        self, payment: Payment, operation: str, trace: Trace, call: Callable[[str], ProviderReply]
    ) -> ProviderReply:
        try:
            reply = call(f"{payment.id}:{operation}")
        except ProviderTimeoutError:
            payment.mark_outcome_unknown(operation, trace)
            self.save(payment)  # recorded without the command: the command is not done yet
            raise PaymentOutcomeUnknownError(
                f"provider did not answer {operation} for {payment.id}"
            ) from None
        crash_point("saga.after_psp_call")
        return reply

    @staticmethod
    def _check_approved(reply: ProviderReply) -> None:
        if reply.status != "approved":
            raise RuleViolationError(f"provider refused: {reply.reason}")

    @staticmethod
    def _decided(payment: Payment) -> Decision:
        return Decision(
            [payment],
            {
                "payment_id": str(payment.id),
                "status": payment.status.value,
                "captured_cents": payment.captured.cents,
                "refunded_cents": payment.refunded.cents,
            },
        )
