"""Rebuild a projection from Kafka offset 0 or from the event store; replay without a reset.

A rebuild is one transaction: take the projection's exclusive lock (live projectors pause),
note the live checksum, drop and recreate the tables, forget the bookkeeping, apply every
event, note the new checksum, commit. Readers see the old model until the new one is
complete. The result is the same from either source, because the same `Applier` applies the
same published events. With `dry_run` the transaction is rolled back instead: the answer to
"would a fresh fold equal the live model?" (invariant I5), leaving everything as it was.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial

from infrastructure.database import connect
from infrastructure.settings import Settings
from projections import sources, tables
from projections.applying import Applier
from projections.checksum import checksum
from projections.incoming import Incoming
from projections.projection import Projection
from projections.sources import NotificationLog
from projections.stats import Counts

Batches = Callable[[], Iterable[list[Incoming]]]


@dataclass(frozen=True)
class Outcome:
    counts: Counts  # what the rebuild (or replay) did
    checksum: str  # of the read model it produced
    before: str  # of the live read model it replaced


def rebuild_from_kafka(settings: Settings, projection: Projection, *, dry_run: bool = False) -> Outcome:
    """Every record of the projection's topics from offset 0 to their current end."""
    read = partial(sources.from_kafka, settings, projection.contexts)
    return _rebuild(settings, projection, read, reset=True, dry_run=dry_run)


def rebuild_from_events(
    settings: Settings,
    projection: Projection,
    logs: Mapping[str, NotificationLog],
    *,
    dry_run: bool = False,
) -> Outcome:
    """Every stored event; `logs` maps each context to its application (`sources.NotificationLog`)."""
    read = partial(sources.from_store, logs, projection.contexts)
    return _rebuild(settings, projection, read, reset=True, dry_run=dry_run)


def replay_from_kafka(settings: Settings, projection: Projection) -> Outcome:
    """Apply every record from offset 0 again over the live tables: each one is already
    applied, so this changes nothing but the duplicate counter (layer 6, end to end)."""
    read = partial(sources.from_kafka, settings, projection.contexts)
    return _rebuild(settings, projection, read, reset=False, dry_run=False)


def _rebuild(
    settings: Settings, projection: Projection, batches: Batches, *, reset: bool, dry_run: bool
) -> Outcome:
    tables.ensure(settings, projection)
    applier, counts = Applier(projection), Counts()
    with (
        connect(settings, autocommit=True) as conn,
        conn.transaction(force_rollback=dry_run),
        conn.cursor() as cursor,
    ):
        tables.lock_for_rebuild(cursor, settings, projection)
        before = checksum(conn, projection)
        if reset:
            tables.reset(cursor, projection)
        for batch in batches():  # read only now: every earlier live batch has committed
            counts.add(applier.apply_all(cursor, batch))
        return Outcome(counts, checksum(conn, projection), before)
