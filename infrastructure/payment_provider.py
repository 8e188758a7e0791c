"""An in-process payment provider that keeps its own idempotency keys.

It behaves like a real provider where it matters: the same key always gets the first
answer, and it can be told to time out once *after* recording a charge, which is the case
that double-charges a naive client.
"""

import itertools
import threading
from collections.abc import Callable

from domain.money import Money
from domain.ports import ProviderReply, ProviderTimeoutError


class InMemoryPaymentProvider:
    def __init__(self) -> None:
        self._replies: dict[str, ProviderReply] = {}
        self._charges: list[tuple[str, str, int]] = []  # (key, operation, cents)
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.timeouts_after_charge: set[str] = set()  # keys to answer with a timeout once

    def authorize(self, *, idempotency_key: str, amount: Money, token: str, order_id: str) -> ProviderReply:
        declined = token.startswith("tok_decline")
        return self._once(
            idempotency_key,
            "authorize",
            0 if declined else amount.cents,
            lambda ref: (
                ProviderReply("declined", ref, "card declined")
                if declined
                else ProviderReply("approved", ref)
            ),
        )

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return self._once(
            idempotency_key, "capture", amount.cents, lambda ref: ProviderReply("approved", ref)
        )

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply:
        return self._once(idempotency_key, "void", 0, lambda ref: ProviderReply("approved", ref))

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return self._once(idempotency_key, "refund", amount.cents, lambda ref: ProviderReply("approved", ref))

    def operations(self, operation: str) -> list[tuple[str, int]]:
        """(key, cents) of every operation of this kind the provider actually performed."""
        with self._lock:
            return [(key, cents) for key, op, cents in self._charges if op == operation]

    def _once(
        self, key: str, operation: str, cents: int, reply: Callable[[str], ProviderReply]
    ) -> ProviderReply:
        with self._lock:
            if key not in self._replies:
                self._replies[key] = reply(f"{operation}_{next(self._serial)}")
                if self._replies[key].status == "approved":
                    self._charges.append((key, operation, cents))
            if key in self.timeouts_after_charge:
                self.timeouts_after_charge.discard(key)
                raise ProviderTimeoutError(f"{operation} {key}: no answer")
            return self._replies[key]
