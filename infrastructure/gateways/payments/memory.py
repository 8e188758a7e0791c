"""An in-process payment provider that keeps its own idempotency keys.

It behaves like a real provider where it matters: the same key always gets the first
answer (a refusal included), it enforces the provider simulator's rules on what may follow
an authorization (`infrastructure/simulators/psp/rules.py`: no capture after a void, no void
after a capture, refunds only of what is captured), and it can be told to time out once
*after* recording a charge, which is the case that double-charges a naive client.

Where the simulator would answer with a 4xx that is not a business refusal (an unknown
authorization, a key first used for another request, another currency), this raises
`RequestRejectedError` with that status, as the HTTP client and the ledger provider do.
"""

import itertools
import threading
from collections.abc import Hashable

from domain.money import Money
from domain.ports import ProviderReply, ProviderTimeoutError
from infrastructure.simulators import problems
from infrastructure.simulators.psp import rules, tokens


class InMemoryPaymentProvider:
    def __init__(self) -> None:
        self._answers: dict[str, tuple[Hashable, ProviderReply]] = {}  # key -> (request, reply)
        self._held: dict[str, rules.Held] = {}  # approved authorizations, by reference
        self._charges: list[tuple[str, str, int]] = []  # (key, operation, cents), approved only
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.timeouts_after_charge: set[str] = set()  # keys to answer with a timeout once

    def authorize(self, *, idempotency_key: str, amount: Money, token: str, order_id: str) -> ProviderReply:
        request = ("authorize", order_id, token, amount.cents, amount.currency)
        with self._lock:
            if idempotency_key not in self._answers:
                reference = self._reference("authorize")
                reason = tokens.decline_reason(token)
                if reason is None:
                    self._held[reference] = rules.Held(amount.cents, amount.currency)
                    self._charges.append((idempotency_key, "authorize", amount.cents))
                reply = (
                    ProviderReply("approved", reference)
                    if reason is None
                    else ProviderReply("declined", reference, reason)
                )
                self._answers[idempotency_key] = (request, reply)
            return self._answer(idempotency_key, request)

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return self._follow_up(idempotency_key, "capture", reference, amount.cents, amount.currency)

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply:
        return self._follow_up(idempotency_key, "void", reference, 0, None)

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return self._follow_up(idempotency_key, "refund", reference, amount.cents, amount.currency)

    def operations(self, operation: str) -> list[tuple[str, int]]:
        """(key, cents) of every operation of this kind the provider actually performed (approved)."""
        with self._lock:
            return [(key, cents) for key, op, cents in self._charges if op == operation]

    def _follow_up(
        self, key: str, operation: str, reference: str, cents: int, currency: str | None
    ) -> ProviderReply:
        request = (operation, reference, cents, currency)
        with self._lock:
            held = self._held.get(reference)
            if held is None:
                detail = f"{operation} {key}: no approved authorization {reference!r}"
                raise problems.UNKNOWN_AUTHORIZATION.rejected(detail)
            if key not in self._answers:
                refused = rules.refusal(operation, held, cents, currency)
                own = self._reference(operation)
                if refused is None:
                    self._held[reference] = held.after(operation, cents)
                    self._charges.append((key, operation, cents))
                    reply = ProviderReply("approved", own)
                else:
                    reply = ProviderReply("refused", own, refused.detail, refused.problem.name)
                self._answers[key] = (request, reply)
            return self._answer(key, request)

    def _answer(self, key: str, request: Hashable) -> ProviderReply:
        """The key's first answer, under the lock: a lost one, a reused key, or a non-business refusal."""
        first, reply = self._answers[key]
        if first != request:
            detail = f"idempotency key {key!r} was first used for a different request"
            raise problems.KEY_REUSED.rejected(detail)
        if key in self.timeouts_after_charge:
            self.timeouts_after_charge.discard(key)
            raise ProviderTimeoutError(f"{key}: no answer")
        if reply.status == "refused" and not problems.BY_NAME[reply.code].refusal:
            raise problems.BY_NAME[reply.code].rejected(reply.reason)
        return reply

    def _reference(self, operation: str) -> str:
        return f"{operation}_{next(self._serial)}"
