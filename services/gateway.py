"""Gateway workers: perform the calls a context decided, concurrently, and record each answer.

A context whose commands need an outside party (payments: the provider; fulfillment: the
carrier) stores each call with the command that decided it (`domain/calls.py`). A `Gateway`
claims due calls from that table, asks the party through the context (`ask`), and executes
the command recording the answer, which closes the call in its own transaction. Many calls
run at once, in a pool, so a slow provider holds one thread, not the flow; no consumer ever
waits on the outside world.

What happens to a call depends only on why it did not get an answer:
  * no answer, an unknown outcome, a party unreachable, a database away: try again later,
    under the same key, after an exponential backoff with full jitter, kept in the table;
  * refused for good (the request itself is wrong: `RequestRejectedError`, a 4xx; or a
    refusal the state did not expect: `CallRefusedError`), or an answer the context cannot
    record: park it, with the reason, for a person.
A call leased to a worker that died is claimed again once its lease has passed.
While a call is performed, its ids are bound to the log lines: its flow's correlation id, the
command that decided it as the cause (as the party is told), and the id of the command that
will record its answer.
"""

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from structlog.contextvars import bound_contextvars

from domain.calls import Call, CallRefusedError
from domain.commands import Command
from domain.errors import InvalidCommandError, RuleViolationError
from domain.ports import CarrierTimeoutError, ProviderTimeoutError, RequestRejectedError
from infrastructure.faults.crash_points import crash_point
from services.application import CallQueue, Receipt

log = logging.getLogger(__name__)
Wait = Callable[[float], object]  # blocks until a hint that calls were added, or the timeout
Count = Callable[[], object]
UNKNOWN_OUTCOMES = (ProviderTimeoutError, CarrierTimeoutError)  # the party may have done it


def _uncounted() -> None:
    return None


class CallingContext(Protocol):
    name: str

    def ask(self, call: Call) -> Command:
        """Put the call to the outside party; the command that records its answer."""
        ...

    def execute(self, command: Command, *, expect_new: bool = False) -> Receipt: ...


@dataclass(frozen=True)
class GatewayOptions:
    workers: int = 16  # calls in flight at once, per context
    lease_s: float = 30.0  # must outlast one attempt (its timeout) and recording the answer
    backoff_s: float = 0.1  # the cap of the first pause; it doubles per attempt...
    backoff_max_s: float = 5.0  # ...up to this
    poll_s: float = 0.25  # the longest wait for a call that came due without a hint


@dataclass(frozen=True)
class Tally:
    """What becomes of the calls, counted as the composition root wires it (the process's
    metrics, `System.gateways`): nothing by default."""

    retried: Count = _uncounted  # no answer yet: asked again later
    unknown: Count = _uncounted  # of those, the ones that may have been done (timed out)
    parked: Count = _uncounted  # refused for good


class Gateway:
    def __init__(
        self,
        context: CallingContext,
        queue: CallQueue,
        options: GatewayOptions | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.context = context
        self.queue = queue
        self.options = options or GatewayOptions()
        self.tally = tally or Tally()
        self._rng = random.Random()

    def perform(self, call: Call) -> str:
        """Ask, record the answer, or schedule the next attempt; returns what became of it:
        "answered", "retry" or "parked"."""
        with bound_contextvars(
            correlation_id=call.correlation_id, causation_id=call.causation_id, command_id=call.answer_id
        ):
            return self._perform(call)

    def _perform(self, call: Call) -> str:
        try:
            answer = self.context.ask(call)
            crash_point("gateway.after_call")
            self.context.execute(answer, expect_new=True)
        except (CallRefusedError, RequestRejectedError, RuleViolationError, InvalidCommandError) as refusal:
            log.error("%s call %s parked: %s", self.context.name, call.call_id, refusal)
            self.queue.park(call.call_id, _describe(refusal))
            self.tally.parked()
            return "parked"
        except Exception as failure:  # no answer yet: the same question, later
            delay = self.pause_s(call.attempts)
            log.warning(
                "%s call %s, attempt %d: %s; again in %.2fs",
                self.context.name, call.call_id, call.attempts, _describe(failure), delay,
            )  # fmt: skip
            self.queue.retry(call.call_id, delay, _describe(failure))
            self.tally.retried()
            if isinstance(failure, UNKNOWN_OUTCOMES):
                self.tally.unknown()
            return "retry"
        return "answered"

    def perform_due(self, limit: int = 100) -> int:
        """Claim and perform due calls one by one, in this thread (the in-memory pump and
        tests); returns how many were claimed."""
        calls = self.queue.claim(limit, self.options.lease_s)
        for call in calls:
            self.perform(call)
        return len(calls)

    def run(self, stop: threading.Event, hint: Wait | None = None) -> None:
        """Claim and perform calls in a pool until `stop` is set; `hint` waits for a NOTIFY."""
        waiting: Wait = hint or stop.wait
        with ThreadPoolExecutor(self.options.workers, f"{self.context.name.lower()}-call") as pool:
            busy: set[Future[str]] = set()
            while not stop.is_set():
                busy = {future for future in busy if not future.done()}
                free = self.options.workers - len(busy)
                claimed = self._claim(free) if free else []
                busy |= {pool.submit(self._perform_logged, call) for call in claimed}
                if len(busy) >= self.options.workers:
                    wait(busy, timeout=self.options.poll_s, return_when=FIRST_COMPLETED)
                elif not claimed:
                    waiting(self.options.poll_s)

    def pause_s(self, attempts: int) -> float:
        """Full jitter: anywhere up to the exponential cap, so calls that failed together
        (a provider restarting) spread out instead of returning at once."""
        cap = min(self.options.backoff_max_s, self.options.backoff_s * 2 ** max(0, attempts - 1))
        return self._rng.uniform(0, cap)

    def _perform_logged(self, call: Call) -> str:
        """`perform` in the pool: if even rescheduling failed (the database is away), the
        lease runs out and the call is claimed again; say so rather than lose the error."""
        try:
            return self.perform(call)
        except Exception:
            log.exception("%s call %s: could not record what became of it", self.context.name, call.call_id)
            return "retry"

    def _claim(self, limit: int) -> list[Call]:
        try:
            return self.queue.claim(limit, self.options.lease_s)
        except Exception as error:  # the database is away: nothing to do but wait
            log.warning("%s: cannot claim calls: %s", self.context.name, _describe(error))
            return []


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
