"""Rebuild a projection from Kafka offset 0 or from the event store; replay without a reset.

A rebuild is one transaction: take the projection's exclusive lock (live projectors pause),
note the live checksum, create new tables beside the live ones and forget the bookkeeping
(`tables.stage`), apply every event to the new tables, note their checksum, swap them in
for the live ones (`tables.swap`), commit. Readers read the old model, undisturbed, until
the new one is complete, and the new one from then on: never an error, never a table half
built. The result is the same from either source, because the same `Applier` applies the
same published events. With `dry_run` nothing is swapped and the transaction is rolled back:
the answer to "would a fresh fold equal the live model?" (invariant I5), leaving everything
as it was.
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
Handled = Callable[[int], None]  # told the number of records handled so far, after each batch


@dataclass(frozen=True)
class Outcome:
    counts: Counts  # what the rebuild (or replay) did
    checksum: str  # of the read model it produced
    before: str  # of the live read model it replaced


def rebuild_from_kafka(
    settings: Settings, projection: Projection, *, dry_run: bool = False, handled: Handled | None = None
) -> Outcome:
    """Every record of the projection's topics from offset 0 to their current end."""
    read = partial(sources.from_kafka, settings, projection.contexts)
    return _rebuild(settings, projection, read, reset=True, dry_run=dry_run, handled=handled)


def rebuild_from_events(
    settings: Settings,
    projection: Projection,
    logs: Mapping[str, NotificationLog],
    *,
    dry_run: bool = False,
    handled: Handled | None = None,
) -> Outcome:
    """Every stored event; `logs` maps each context to its application (`sources.NotificationLog`)."""
    read = partial(sources.from_store, logs, projection.contexts)
    return _rebuild(settings, projection, read, reset=True, dry_run=dry_run, handled=handled)


def replay_from_kafka(settings: Settings, projection: Projection) -> Outcome:
    """Apply every record from offset 0 again over the live tables: each one is already
    applied, so this changes nothing but the duplicate counter (layer 6, end to end)."""
    read = partial(sources.from_kafka, settings, projection.contexts)
    return _rebuild(settings, projection, read, reset=False, dry_run=False)


def _rebuild(
    settings: Settings,
    projection: Projection,
    batches: Batches,
    *,
    reset: bool,
    dry_run: bool,
    handled: Handled | None = None,
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
        staged = tables.stage(cursor, projection) if reset else None
        for batch in batches():  # read only now: every earlier live batch has committed
            counts.add(applier.apply_all(cursor, batch))
            if handled:
                handled(counts.total)
        after = checksum(conn, projection)  # of the new tables, before the swap makes readers wait
        if staged and not dry_run:
            tables.swap(cursor, staged, projection)
        return Outcome(counts, after, before)
