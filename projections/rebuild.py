"""Rebuild a projection from Kafka offset 0 or from the event store; replay without a reset.

A rebuild is one transaction: take the projection's exclusive lock (live projectors pause),
note the live checksum, create new tables beside the live ones and forget the bookkeeping
(`tables.stage`), apply every event to the new tables, note their checksum, swap them in
for the live ones (`tables.swap`), commit. Readers read the old model, undisturbed, until
the new one is complete, and the new one from then on: never an error, never a table half
built. The result is the same from either source, because the same `Applier` applies the
same published events. With `dry_run` nothing is swapped and the transaction is rolled back:
the answer to "would a fresh fold equal the live model?" (invariant I5), leaving everything
as it was. `fold_of_consumed` asks the narrower question `orders reconcile` needs of a live
system: does the model equal a fold of the events it has consumed, however far behind it is?
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from uuid import UUID

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


def fold_of_consumed(
    settings: Settings, projection: Projection, logs: Mapping[str, NotificationLog]
) -> Outcome:
    """Fold every stored event up to the version of its aggregate that the projection has
    applied, beside the live tables, and roll back. The versions are read under the rebuild's
    lock, with the live checksum: no batch can apply more in between, so the two checksums
    differ only where the live model diverged from its events, never because it lags."""
    consumed: dict[UUID, int] = {}  # filled under the lock, before the fold reads the store
    read = partial(sources.from_store, logs, projection.contexts, up_to=consumed)
    return _rebuild(settings, projection, read, reset=True, dry_run=True, consumed=consumed)


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
    consumed: dict[UUID, int] | None = None,
) -> Outcome:
    """`consumed`, if given, is filled with the versions the projection has applied before
    staging forgets them."""
    tables.ensure(settings, projection)
    applier, counts = Applier(projection), Counts()
    with (
        connect(settings, autocommit=True) as conn,
        conn.transaction(force_rollback=dry_run),
        conn.cursor() as cursor,
    ):
        tables.lock_for_rebuild(cursor, settings, projection)
        before = checksum(conn, projection)
        if consumed is not None:
            query = "SELECT aggregate_id, version FROM projection_versions WHERE projection = %s"
            consumed.update(cursor.execute(query, (projection.name,)).fetchall())
        staged = tables.stage(cursor, projection) if reset else None
        for batch in batches():  # read only now: every earlier live batch has committed
            counts.add(applier.apply_all(cursor, batch))
            if handled:
                handled(counts.total)
        after = checksum(conn, projection)  # of the new tables, before the swap makes readers wait
        if staged and not dry_run:
            tables.swap(cursor, staged, projection)
        return Outcome(counts, after, before)
