"""A payment provider whose ledger lives in PostgreSQL, called in process.

It is the payment provider simulator's ledger (`infrastructure/simulators/psp/`) without
the HTTP in between: the same table, idempotency keys and test tokens, so `orders check`
reads what it charged at the provider rather than the payments context's own records. An
answer the token says to lose, or a simulated server error, reaches the caller as
`ProviderTimeoutError`: the outcome is not known, and the caller asks again with the same key.
"""

from collections.abc import Callable

from domain.money import Money
from domain.ports import ProviderReply, ProviderTimeoutError
from infrastructure.settings import Settings
from infrastructure.simulators.psp.ledger import Answer, FailedBeforeChargeError, PspLedger


class LedgerPaymentProvider:
    def __init__(self, settings: Settings, schema: str = "psp") -> None:
        self.ledger = PspLedger(settings, schema)

    def authorize(self, *, idempotency_key: str, amount: Money, token: str, order_id: str) -> ProviderReply:
        return _reply(
            lambda: self.ledger.authorize(idempotency_key, order_id=order_id, amount=amount, token=token)
        )

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return _reply(lambda: self.ledger.capture(idempotency_key, authorization=reference, amount=amount))

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply:
        return _reply(lambda: self.ledger.void(idempotency_key, authorization=reference))

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return _reply(lambda: self.ledger.refund(idempotency_key, authorization=reference, amount=amount))


def _reply(call: Callable[[], Answer]) -> ProviderReply:
    try:
        answer = call()
    except FailedBeforeChargeError as error:
        raise ProviderTimeoutError(str(error)) from None
    done = answer.done
    if answer.lose_answer:
        raise ProviderTimeoutError(f"{done.operation} {done.idempotency_key}: no answer")
    return ProviderReply(done.status, done.reference, done.reason)
