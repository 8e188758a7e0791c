"""`domain.ports.PaymentProvider` over a payment provider's HTTP API (the simulator's:
`infrastructure/simulators/psp/app.py`).

The payments context's idempotency key goes out as the `Idempotency-Key` of every attempt,
so retries here, and the payments context's own retries after an unknown outcome, are all
the same question to the provider: at most one charge, whatever is lost on the way.

A business refusal (409 or 422 with a refusal's problem type: a capture after a void, a
refund above what is captured) is the provider's answer, returned as a "refused" reply with
the problem's detail as its reason. Any other 4xx (an unknown authorization, a reused key, a
request it cannot read) raises `GatewayRefusedError`: the request is wrong, not the moment.
With an `AttemptLog`, every attempt is recorded under its key (`infrastructure/calls/attempts.py`).
"""

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from domain.money import Money
from domain.ports import ProviderReply, ProviderTimeoutError
from infrastructure.calls.attempts import AttemptLog
from infrastructure.gateways.retrying import GatewayRefusedError, JsonGateway, RetryPolicy


class _Answer(BaseModel):
    status: Literal["approved", "declined"]
    reference: str
    reason: str = ""


class HttpPaymentProvider:
    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        attempts: AttemptLog | None = None,
    ) -> None:
        self._gateway = JsonGateway(
            base_url, policy or RetryPolicy(), ProviderTimeoutError, headers, attempts
        )

    def authorize(self, *, idempotency_key: str, amount: Money, token: str, order_id: str) -> ProviderReply:
        body = {"order_id": order_id, "token": token, **_amount(amount)}
        return self._ask("authorize", "/v1/authorizations", idempotency_key, body)

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        body = {"authorization": reference, **_amount(amount)}
        return self._ask("capture", "/v1/captures", idempotency_key, body)

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply:
        return self._ask("void", "/v1/voids", idempotency_key, {"authorization": reference})

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        body = {"authorization": reference, **_amount(amount)}
        return self._ask("refund", "/v1/refunds", idempotency_key, body)

    def close(self) -> None:
        self._gateway.close()

    def _ask(self, operation: str, path: str, idempotency_key: str, body: Mapping[str, Any]) -> ProviderReply:
        try:
            reply = self._gateway.post(operation, path, idempotency_key, body)
        except GatewayRefusedError as error:
            if error.refusal is None:
                raise
            reference = str(error.problem.get("reference", ""))
            return ProviderReply("refused", reference, error.detail, error.refusal.name)
        answer = _Answer.model_validate(reply)
        return ProviderReply(answer.status, answer.reference, answer.reason)


def _amount(amount: Money) -> dict[str, Any]:
    return {"amount_cents": amount.cents, "currency": amount.currency}
