"""Ports to the world outside the transaction: the payment provider (implemented in
infrastructure, used by services; pure protocols, so they live with the model).

A provider call is a side effect the database cannot roll back, so every call carries an
idempotency key that is stable across retries, and a timeout is not a failure: the charge
may have happened. `ProviderTimeoutError` says exactly that, and the caller must ask again
with the same key rather than decide.
"""

from dataclasses import dataclass
from typing import Literal, Protocol

from domain.money import Money


@dataclass(frozen=True)
class ProviderReply:
    status: Literal["approved", "declined"]
    reference: str
    reason: str = ""


class ProviderTimeoutError(Exception):
    """No answer in time: the operation may or may not have been applied."""


class PaymentProvider(Protocol):
    def authorize(self, *, idempotency_key: str, amount: Money, token: str) -> ProviderReply: ...

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply: ...

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply: ...

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply: ...
