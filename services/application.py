"""The idempotent command path shared by every bounded context.

`execute(command)` applies a command at most once per command id:

1. If the command log already holds the id, answer from it (a replay): same result, or the
   same refusal, and no new events. A different payload under the same id is refused.
2. Otherwise run the handler against freshly loaded aggregates and save its events together
   with the command's record, in one transaction.
3. If that transaction hits a unique violation, either another writer moved an aggregate
   (optimistic concurrency) or the same command committed first (a concurrent duplicate, or
   our own earlier attempt whose COMMIT answer was lost). Go back to step 1: the log tells
   which, and a conflict is retried with jittered exponential backoff, a bounded number of times.
"""

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.calls import Call
from domain.commands import Command, CommandRecord
from domain.errors import CommandIdReusedError, DomainError, NotFoundError, RuleViolationError

A = TypeVar("A", bound=Aggregate)


class CommandLog(Protocol):
    """The port a recorder implements to answer "was this command applied, and with what?"."""

    def find_command(self, command_id: str) -> CommandRecord | None: ...


class CallQueue(Protocol):
    """The port to a context's outbound calls (`domain/calls.py`), for the gateway workers."""

    channel: str  # where a commit that adds calls sends its NOTIFY ("" in memory)

    def claim(self, limit: int, lease_s: float) -> list[Call]: ...

    def retry(self, call_id: str, delay_s: float, error: str) -> None: ...

    def park(self, call_id: str, error: str) -> None: ...

    def pending(self) -> int: ...


class ConcurrencyError(Exception):
    """Still conflicting after every retry: the caller may try again later with the same id."""


@dataclass(frozen=True)
class Decision:
    """What a handler decided: the aggregates it changed, the result to report, the calls to
    outside parties it asks for, and the calls whose answer it records (all saved at once)."""

    aggregates: Sequence[Aggregate]
    result: dict[str, Any]
    calls: Sequence[Call] = ()
    answered: Sequence[str] = ()


@dataclass(frozen=True)
class Receipt:
    """The answer to `execute`: the command's result and whether it was a replay."""

    command_id: str
    result: dict[str, Any]
    replayed: bool


Handler = Callable[[Any], Decision]


def _uncounted() -> None:
    return None


class IdempotentApplication(Application[UUID]):
    max_attempts: ClassVar[int] = 12
    backoff_base_s: ClassVar[float] = 0.004
    backoff_cap_s: ClassVar[float] = 0.25
    # Called once per command answered from the log: a duplicate absorbed. The composition
    # root hands in the process's counter (`count_replays`); nothing is counted otherwise.
    _count_replay: Callable[[], object] = staticmethod(_uncounted)

    def count_replays(self, count: Callable[[], object]) -> None:
        self._count_replay = count

    def handlers(self) -> dict[type[Command], Handler]:
        """Map each command type this context accepts to its one handler."""
        raise NotImplementedError

    @property
    def command_log(self) -> CommandLog:
        log = self.recorder
        assert hasattr(log, "find_command"), f"{type(log).__name__} keeps no command log"
        return log

    @property
    def calls(self) -> CallQueue:
        queue = getattr(self.recorder, "calls", None)
        assert queue is not None, f"{type(self.recorder).__name__} keeps no calls"
        return queue  # type: ignore[no-any-return]

    def execute(self, command: Command, *, expect_new: bool = False) -> Receipt:
        """Apply the command once per id; see the module docstring. `expect_new` skips the log
        lookup before the first attempt, for callers whose commands are nearly always new (the
        saga's and the gateway's, with ids derived from what they handle): a repeat then fails
        on the command row's key instead, and is answered from the log after all."""
        handler = self.handlers()[type(command)]
        fingerprint = command.fingerprint()
        look_first = not expect_new
        for attempt in range(1, self.max_attempts + 1):
            if look_first and (prior := self.command_log.find_command(command.command_id)) is not None:
                return self._replay(prior, command, fingerprint)
            try:
                return self._apply(handler, command, fingerprint)
            except IntegrityError:
                if look_first:  # a conflict, not the repeat an unchecked first attempt may be
                    self._sleep_before_retry(attempt)
                look_first = True
        raise ConcurrencyError(f"{type(command).__name__} {command.command_id} kept conflicting")

    def load(self, aggregate_id: UUID, cls: type[A], missing: type[NotFoundError]) -> A:
        """Load an aggregate, turning "no such id" into the context's named error."""
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(f"no {cls.__name__} with id {aggregate_id}") from None
        assert isinstance(aggregate, cls), f"{aggregate_id} is a {type(aggregate).__name__}"
        return aggregate

    def _apply(self, handler: Handler, command: Command, fingerprint: str) -> Receipt:
        def record(outcome: dict[str, Any]) -> CommandRecord:
            return CommandRecord(command.command_id, type(command).__name__, fingerprint, outcome)

        try:
            decision = handler(command)
        except RuleViolationError as refusal:
            self.save(command_record=record({"error": {"code": refusal.code, "message": str(refusal)}}))
            raise
        self.save(
            *decision.aggregates,
            command_record=record({"result": decision.result}),
            calls=decision.calls,
            answered=decision.answered,
        )
        return Receipt(command.command_id, decision.result, replayed=False)

    def _replay(self, prior: CommandRecord, command: Command, fingerprint: str) -> Receipt:
        if prior.fingerprint != fingerprint or prior.command_type != type(command).__name__:
            raise CommandIdReusedError(
                f"command id {command.command_id!r} was already used for another {prior.command_type} request"
            )
        self._count_replay()  # the same command again: answered, result or refusal, as the first
        if "error" in prior.outcome:
            error = prior.outcome["error"]
            raise DomainError.from_code(error["code"], error["message"])
        return Receipt(command.command_id, prior.outcome["result"], replayed=True)

    def _sleep_before_retry(self, attempt: int) -> None:
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2**attempt)
        time.sleep(random.uniform(ceiling / 2, ceiling))
