"""Outbound calls: side effects on a party outside the transaction (the payment provider,
the carrier), decided by a command and performed later.

A command that needs the provider or the carrier does not call it. It records its intent
on the aggregate (a payment is now "capturing") and returns a `Call`, which the command
log stores in the same transaction as the events. A gateway worker performs the call from
there, under `call_id` as the idempotency key, as often as it takes to get an answer, and
feeds the answer back as a command of its own whose id derives from the call. So the
consumer that decided never waits on the outside world, a call is never lost (it commits
with its cause), never made without its cause, and never has two effects.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.tracing import Trace


@dataclass(frozen=True)
class Call:
    """One request to an outside party, as decided; `request` holds JSON values only."""

    call_id: str  # unique per effect: the idempotency key the other party sees
    operation: str  # what to ask: "authorize", "capture", "book", "cancel"...
    request: Mapping[str, Any]
    correlation_id: str = ""
    causation_id: str = ""  # the command that decided it
    attempts: int = field(default=0, compare=False)  # which attempt this is, once claimed (1: the first)

    @classmethod
    def decided(cls, call_id: str, operation: str, trace: Trace, **request: Any) -> "Call":
        return cls(call_id, operation, request, trace.correlation_id, trace.command_id)

    @property
    def answer_id(self) -> str:
        """The id of the command that records this call's answer: one per call, so an
        answer fed back twice (a retry after a crash) is applied once."""
        return f"answer:{self.call_id}"


class CallRefusedError(Exception):
    """The other party refused the request for good: the request itself is wrong (a 4xx), or
    the state at its end forbids it. Asking again cannot help, so the call is parked for a
    person to look at, instead of being retried forever."""
