"""The saga as a consumer of records: which records it reads, which order each belongs to,
and what becomes of a record it cannot handle.

The consumer (`infrastructure/concurrent_consumer.py`) asks `route` which key a record
belongs to, runs the records of one key in order and different keys at once, and hands
each to `handle`. The key is the order id, so one order's events are handled one after
another while other orders go ahead. A record of a type the saga does not act on is passed
over by its `event_type` header, without decoding it.

A record that can never be handled is a dead letter: it is parked with its reason
(`orders dlq` lists it, and retries it once its cause is fixed) and its partition moves on;
the order's deadline fails it if it needed that record. That covers a record that is not
an event, an event about no known order, and a command the log refuses as malformed. Any
other failure (the database away, a conflict that outlasted its retries) is transient:
`handle` raises, and the consumer tries that record again after a backoff, holding back
that order only. A record still failing after `give_up_after_s` is parked too.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.errors import InvalidCommandError, NotFoundError
from infrastructure.contracts import IntegrationEvent
from services.saga.saga import OrderSaga

log = logging.getLogger(__name__)
GIVE_UP_AFTER_S = 600.0  # well beyond a restart of the database or a paused broker


class Record(Protocol):
    """One consumed record (`infrastructure.consuming.Delivery`)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class DeadLetters(Protocol):
    def park(self, record: Record, event: IntegrationEvent | None, reason: str) -> None:
        """Keep the record and why it was parked; parking one twice keeps it once."""
        ...


@dataclass(frozen=True)
class Routed:
    """A record the saga will handle: its event, or why it could not be decoded."""

    record: Record
    event: IntegrationEvent | None
    error: str = ""
    first_seen: float = 0.0


class SagaRecords:
    def __init__(
        self, saga: OrderSaga, dead_letters: DeadLetters, give_up_after_s: float = GIVE_UP_AFTER_S
    ) -> None:
        self.saga = saga
        self.dead_letters = dead_letters
        self.give_up_after_s = give_up_after_s

    def route(self, record: Record) -> tuple[str, Routed] | None:
        """The record's key and what to handle, or None for a record the saga passes over."""
        kind = dict(record.headers).get("event_type")
        if kind is not None and kind.decode(errors="replace") not in self.saga.relevant:
            return None
        try:
            event = IntegrationEvent.from_bytes(record.value)
            if event.event_type not in self.saga.relevant:
                return None
            event.payload()  # its data against the published schema of its type and version
            order_id = str(UUID(event.data["order_id"]))
        except Exception as error:  # not an event the saga can read: it goes to the dead letters
            where = f"{record.topic}[{record.partition}]@{record.offset}"
            return where, Routed(record, None, f"{type(error).__name__}: {error}", time.monotonic())
        return order_id, Routed(record, event, first_seen=time.monotonic())

    def handle(self, routed: Routed) -> None:
        """Handle one record; raises only for a failure worth trying again."""
        if routed.event is None:
            return self._park(routed, f"unreadable: {routed.error}")
        try:
            self.saga.handle(routed.event)
        except (NotFoundError, InvalidCommandError) as error:
            self._park(routed, f"{type(error).__name__}: {error}")
        except Exception as error:
            if time.monotonic() - routed.first_seen < self.give_up_after_s:
                raise
            self._park(
                routed, f"still failing after {self.give_up_after_s:.0f}s: {type(error).__name__}: {error}"
            )
        return None

    def _park(self, routed: Routed, reason: str) -> None:
        record = routed.record
        log.error("saga: %s[%d]@%d parked: %s", record.topic, record.partition, record.offset, reason)
        self.dead_letters.park(record, routed.event, reason)
