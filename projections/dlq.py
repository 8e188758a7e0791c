"""Operator actions on dead letters: list them, retry one, discard one.

Retry applies the dead event again (its cause fixed, or its failure transient); discard
skips it. Either way the aggregate is unblocked and its parked events are applied in order,
in the same transaction, as far as their versions follow on. Both run under the
projection's batch lock, so they never interleave with a rebuild.
"""

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg import Cursor

from infrastructure.database import connect
from infrastructure.settings import Settings
from projections import dead_letters, positions, stats, tables
from projections.applying import Applier
from projections.catalog import PROJECTIONS, projection_named
from projections.dead_letters import DISCARDED, OPEN, RETRIED, DeadLetter
from projections.errors import DeadLetterError, UnknownDeadLetterError
from projections.stats import Counts


@dataclass(frozen=True)
class Resolution:
    """What retry or discard did: `error` is set when a retry failed again (the letter stays
    open); `waiting` lists the versions of the aggregate still parked afterwards."""

    letter: DeadLetter
    error: str = ""
    counts: Counts = field(default_factory=Counts)
    waiting: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Listed:
    letter: DeadLetter
    waiting: list[int]


def listed(settings: Settings, projection: str | None = None, include_resolved: bool = False) -> list[Listed]:
    tables.ensure(settings)
    with connect(settings) as conn, conn.cursor() as cursor:
        letters = dead_letters.listed(cursor, projection, include_resolved)
        return [
            Listed(letter, _waiting(cursor, letter.projection, letter.aggregate_id)) for letter in letters
        ]


def letter(settings: Settings, letter_id: int) -> DeadLetter:
    """One dead letter, of any consumer (a projection, or the saga)."""
    with connect(settings) as conn, conn.cursor() as cursor:
        found = dead_letters.find(cursor, letter_id)
    if found is None:
        raise UnknownDeadLetterError(f"no dead letter with id {letter_id} (see `orders dlq list --all`)")
    return found


def retry(settings: Settings, letter_id: int) -> Resolution:
    tables.ensure(settings)
    with connect(settings, autocommit=True) as conn, conn.transaction(), conn.cursor() as cursor:
        letter, applier = _open(cursor, settings, letter_id)
        if applier is None:
            raise DeadLetterError(f"dead letter {letter_id} is the {letter.projection}'s, not a projection's")
        try:
            event = letter.record.event()
        except Exception as error:  # still not an event
            return _failed(cursor, letter, dead_letters.describe(error))
        last = positions.last_applied(cursor, letter.projection, event.aggregate_id)
        _check_next(letter.id, event.aggregate_id, event.aggregate_version, last)
        counts = Counts()
        if event.aggregate_version > last:
            if failure := applier.attempt(cursor, event):
                return _failed(cursor, letter, failure)
            applier.applied(cursor, event, counts)
        dead_letters.resolve(cursor, letter.id, RETRIED)
        return _released(cursor, applier, letter, event.aggregate_id, counts)


def discard(settings: Settings, letter_id: int) -> Resolution:
    tables.ensure(settings)
    with connect(settings, autocommit=True) as conn, conn.transaction(), conn.cursor() as cursor:
        letter, applier = _open(cursor, settings, letter_id)
        dead_letters.resolve(cursor, letter.id, DISCARDED)
        if letter.aggregate_id is None or applier is None:
            return Resolution(letter)  # it held nothing back
        if letter.version is not None:
            last = positions.last_applied(cursor, letter.projection, letter.aggregate_id)
            _check_next(letter.id, letter.aggregate_id, letter.version, last)
            if letter.version > last:
                positions.advance(cursor, letter.projection, letter.aggregate_id, letter.version)
        return _released(cursor, applier, letter, letter.aggregate_id, Counts())


def _open(cursor: Cursor[Any], settings: Settings, letter_id: int) -> tuple[DeadLetter, Applier | None]:
    """The open letter, locked, and its projection's applier (None for another consumer's
    letter, the saga's: it holds no events of a read model back)."""
    letter = dead_letters.find(cursor, letter_id, lock=True)
    if letter is None:
        raise UnknownDeadLetterError(f"no dead letter with id {letter_id} (see `orders dlq list --all`)")
    if letter.status != OPEN:
        raise DeadLetterError(f"dead letter {letter_id} was already {letter.status}")
    if letter.projection not in PROJECTIONS:
        return letter, None
    projection = projection_named(letter.projection)
    tables.lock_for_batch(cursor, settings, projection)
    return letter, Applier(projection)


def _check_next(letter_id: int, aggregate_id: UUID, version: int, last: int) -> None:
    """Only the aggregate's next version can be retried or skipped: skipping past a missing
    version would leave the events after it waiting for good."""
    if version > last + 1:
        raise DeadLetterError(
            f"dead letter {letter_id} is version {version} of {aggregate_id}, but version"
            f" {last + 1} has not been applied yet; wait for it, then try again"
        )


def _failed(cursor: Cursor[Any], letter: DeadLetter, error: str) -> Resolution:
    dead_letters.still_failing(cursor, letter.id, error)
    return Resolution(letter, error=error, waiting=_waiting(cursor, letter.projection, letter.aggregate_id))


def _released(
    cursor: Cursor[Any], applier: Applier, letter: DeadLetter, aggregate_id: UUID, counts: Counts
) -> Resolution:
    applier.drain(cursor, aggregate_id, counts)
    stats.record(cursor, letter.projection, counts)
    return Resolution(
        letter, counts=counts, waiting=positions.waiting(cursor, letter.projection, aggregate_id)
    )


def _waiting(cursor: Cursor[Any], projection: str, aggregate_id: UUID | None) -> list[int]:
    return positions.waiting(cursor, projection, aggregate_id) if aggregate_id else []
