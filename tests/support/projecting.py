"""Running projectors in threads for a test, and reading what they did."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from infrastructure.database import connect
from infrastructure.settings import Settings
from projections import stats, tables
from projections.checksum import checksum
from projections.projection import Projection
from projections.runner import Projector
from projections.stats import Counts
from support.isolation import wait_until


@contextmanager
def projectors_running(settings: Settings, *projections: Projection) -> Iterator[list[Projector]]:
    """Each projection's projector in a thread of its own, stopped and joined on the way out."""
    for projection in projections:
        tables.ensure(settings, projection)
    running = [Projector(settings, projection) for projection in projections]
    stop = threading.Event()
    threads = [threading.Thread(target=p.run, args=(stop,), name=p.group) for p in running]
    for thread in threads:
        thread.start()
    try:
        yield running
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads), "a projector did not stop"


def counts_of(settings: Settings, projection: Projection) -> Counts:
    with connect(settings) as conn:
        return stats.read(conn, projection.name)


def checksum_of(settings: Settings, projection: Projection) -> str:
    with connect(settings) as conn:
        return checksum(conn, projection)


def wait_until_seen(
    settings: Settings, projection: Projection, records: int, timeout_s: float = 30.0
) -> Counts:
    """Wait until the projection has dealt with `records` records (applied, skipped, parked or
    dead-lettered them), by its transactional counters."""

    def enough() -> Counts | None:
        counts = counts_of(settings, projection)
        return counts if counts.total >= records else None

    return wait_until(enough, f"{projection.name} to deal with {records} records", timeout_s)
