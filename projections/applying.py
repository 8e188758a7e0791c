"""Apply records to one projection exactly once each, in version order per aggregate.

Everything happens inside the caller's transaction: the read-model change, the version
record, parking, dead-lettering and the counters commit together or not at all. That is
what makes the at-least-once delivery of Kafka safe: whatever is delivered again finds its
version recorded and is skipped.

A batch is first applied in one go (`batched.py`), inside a savepoint. If it holds anything
unusual, that attempt is rolled back and the batch is applied record by record: each
`apply` in a savepoint of its own, so an event that fails halfway is rolled back alone and
dead-lettered, and the rest of the batch goes on. Each record's whole way - decoding,
ordering, parking, its version record - is in a savepoint too: whatever fails on it that is
the record's fault is rolled back and the record dead-lettered, so no record can hold its
batch in a retry for good. Applying or parking an event binds its ids to the log lines
(`infrastructure/logs.py`), so a dead letter's line names the flow it belongs to.
"""

import logging
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import psycopg
from psycopg import Cursor
from psycopg.errors import ProgramLimitExceeded

from infrastructure.contracts import IntegrationEvent
from infrastructure.logs import bound
from projections import batched, dead_letters, positions, stats
from projections.incoming import Identity, Incoming
from projections.ordering import Verdict, decide
from projections.projection import Projection
from projections.stats import Counts

log = logging.getLogger(__name__)
# Losing the connection or a deadlock says nothing about the event: fail the whole batch,
# so that it is retried, instead of dead-lettering an innocent event.
NOT_THE_EVENTS_FAULT = (psycopg.OperationalError, psycopg.InterfaceError)


def events_fault(error: Exception) -> bool:
    """Whether `error` is the record's own, to dead-letter it for. A program limit (an index row
    too large, a value nested too deep for the server) is an OperationalError to psycopg, yet
    the record meets it again on every retry: it is the record's."""
    return not isinstance(error, NOT_THE_EVENTS_FAULT) or isinstance(error, ProgramLimitExceeded)


class _Unusual(Exception):
    """The batch needs the careful path."""


class Applier:
    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.name = projection.name

    def apply_all(self, cursor: Cursor[Any], records: Iterable[Incoming]) -> Counts:
        """Apply a batch in order and add its counts to the projection's counters."""
        batch = list(records)
        counts = self._in_one_go(cursor, batch)
        if counts is None:
            counts = Counts()
            for record in batch:
                self._one(cursor, record, counts)
        stats.record(cursor, self.name, counts)
        return counts

    def _in_one_go(self, cursor: Cursor[Any], batch: list[Incoming]) -> Counts | None:
        """The batch applied by the fast path, or None, with nothing of it left behind."""
        try:
            with cursor.connection.transaction():  # a savepoint: all of the attempt, or none
                counts = batched.apply(cursor, self.projection, batch)
                if counts is None:
                    raise _Unusual
        except Exception as error:  # _Unusual, or an apply that failed: the careful path finds which
            if not events_fault(error):
                raise
            return None
        return counts

    def apply_next(
        self, cursor: Cursor[Any], event: IntegrationEvent, record: Incoming, counts: Counts
    ) -> bool:
        """Apply the aggregate's next event, or dead-letter it if that fails."""
        with bound(**event.trace_ids()):
            error = self.attempt(cursor, event)
            if not error:
                self.applied(cursor, event, counts)
                return True
            who = Identity(event.aggregate_id, event.aggregate_version)
            if dead_letters.add(cursor, self.name, who, record, error):
                counts.dead_lettered += 1
            log.warning("%s: dead-lettered %s from %s: %s", self.name, event.event_id, record.source, error)
            return False

    def attempt(self, cursor: Cursor[Any], event: IntegrationEvent) -> str:
        """Run the projection's `apply` in a savepoint; the error if it failed, else ""."""
        try:
            with cursor.connection.transaction():  # a savepoint inside the batch's transaction
                self.projection.apply(cursor, event)
        except Exception as error:
            if not events_fault(error):
                raise
            return dead_letters.describe(error)
        return ""

    def applied(self, cursor: Cursor[Any], event: IntegrationEvent, counts: Counts) -> None:
        positions.advance(cursor, self.name, event.aggregate_id, event.aggregate_version)
        counts.applied += 1

    def drain(self, cursor: Cursor[Any], aggregate_id: UUID, counts: Counts) -> None:
        """Apply the parked events that now follow on, in version order, until a version is
        still missing or one of them fails."""
        while not dead_letters.open_versions(cursor, self.name, aggregate_id):
            record = positions.unpark_next(cursor, self.name, aggregate_id, self._last(cursor, aggregate_id))
            if record is None or not self.apply_next(cursor, record.event(), record, counts):
                return

    def _one(self, cursor: Cursor[Any], record: Incoming, counts: Counts) -> None:
        """Decode the record and route it; if that fails, none of it stays and it is dead-lettered."""
        routed = Counts()
        try:
            with cursor.connection.transaction():  # a savepoint: all the record did, or nothing
                self._route(cursor, record.event(), record, routed)
        except Exception as error:  # whatever the bytes are, they are not an event to route
            if not events_fault(error):
                raise
            routed = Counts()  # what it did was rolled back, so is what it counted
            self._unroutable(cursor, record, dead_letters.describe(error), routed)
        counts.add(routed)

    def _route(self, cursor: Cursor[Any], event: IntegrationEvent, record: Incoming, counts: Counts) -> None:
        aggregate_id, version = event.aggregate_id, event.aggregate_version
        last = self._last(cursor, aggregate_id)
        verdict = decide(last, version, dead_letters.open_versions(cursor, self.name, aggregate_id))
        if verdict is Verdict.DUPLICATE:
            counts.duplicates_skipped += 1
        elif verdict.waits:
            self._park(cursor, event, record, verdict, last, counts)
        elif self.apply_next(cursor, event, record, counts):
            self.drain(cursor, aggregate_id, counts)

    def _park(
        self,
        cursor: Cursor[Any],
        event: IntegrationEvent,
        record: Incoming,
        why: Verdict,
        last: int,
        counts: Counts,
    ) -> None:
        aggregate_id, version = event.aggregate_id, event.aggregate_version
        if not positions.park(cursor, self.name, aggregate_id, version, why.value, record):
            counts.duplicates_skipped += 1  # parked already: a redelivery
            return
        counts.parked += 1
        waits_for = "a dead letter" if why is Verdict.BLOCKED else f"version {last + 1}"
        with bound(**event.trace_ids()):
            log.warning(
                "%s: parked %s from %s: waits for %s", self.name, event.event_id, record.source, waits_for
            )

    def _unroutable(self, cursor: Cursor[Any], record: Incoming, error: str, counts: Counts) -> None:
        who = record.salvage_identity()
        if who.aggregate_id and who.version and who.version <= self._last(cursor, who.aggregate_id):
            counts.duplicates_skipped += 1  # a damaged copy of a version applied already
            return
        if dead_letters.add(cursor, self.name, who, record, error):
            counts.dead_lettered += 1
            log.warning("%s: dead-lettered a record from %s: %s", self.name, record.source, error)
        else:
            counts.duplicates_skipped += 1

    def _last(self, cursor: Cursor[Any], aggregate_id: UUID) -> int:
        return positions.last_applied(cursor, self.name, aggregate_id)
