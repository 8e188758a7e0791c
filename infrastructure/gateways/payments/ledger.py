"""A payment provider whose ledger lives in PostgreSQL, called in process.

It is the payment provider simulator's ledger (`infrastructure/simulators/psp/`) without
the HTTP in between: the same table, idempotency keys, test tokens and rules, so `orders
check` reads what it charged at the provider rather than the payments context's own records.
An answer the token says to lose, or a simulated server error, reaches the caller as
`ProviderTimeoutError`: the outcome is not known, and the caller asks again with the same key.
What the simulator would answer with a business refusal is a "refused" reply; what it would
answer with any other 4xx (an unknown authorization, a reused key, another currency) raises
`RequestRejectedError` with the status it would have sent, exactly as the HTTP client does.
"""

from collections.abc import Callable

from domain.money import Money
from domain.ports import ProviderReply, ProviderTimeoutError
from infrastructure.settings import Settings
from infrastructure.simulators import problems
from infrastructure.simulators.keys import KeyReusedError
from infrastructure.simulators.psp.ledger import (
    Answer,
    FailedBeforeChargeError,
    PspLedger,
    UnknownAuthorizationError,
)


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
    except UnknownAuthorizationError as error:
        raise problems.UNKNOWN_AUTHORIZATION.rejected(str(error)) from None
    except KeyReusedError as error:
        raise problems.KEY_REUSED.rejected(str(error)) from None
    done = answer.done
    if answer.lose_answer:
        raise ProviderTimeoutError(f"{done.operation} {done.idempotency_key}: no answer")
    if done.status != "refused":
        return ProviderReply(done.status, done.reference, done.reason)
    problem = problems.BY_NAME[done.refusal]
    if not problem.refusal:
        raise problem.rejected(done.reason)
    return ProviderReply("refused", done.reference, done.reason, problem.name)
