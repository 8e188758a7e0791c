"""`Projector`: one projection kept up to date from Kafka, as a member of its consumer group.

Per polled batch: one PostgreSQL transaction applies it (deduplicated, ordered, poison
isolated; see `applying`) and commits; only then does the `ConsumerLoop` commit the
offsets. A crash between the two commits redelivers the batch, which the version records
turn into counted duplicates (failure scenario S6; the `projector.after_db_commit` crash point
sits exactly there). A crash before the DB commit leaves nothing behind, not even the
records of the batch applied so far: the server rolls the open transaction back (S7; the
`projector.mid_batch` crash point). Scaling is more instances in the same group: each
aggregate's events stay on one partition.
"""

import logging
import threading
from collections.abc import Sequence
from typing import Any

from psycopg import Connection

from infrastructure import kafka
from infrastructure.consuming import ConsumerLoop, Delivery
from infrastructure.database import connect
from infrastructure.faults.crash_points import crash_point
from infrastructure.metrics import METRICS, Metrics
from infrastructure.settings import Settings
from projections import tables
from projections.applying import Applier
from projections.incoming import Incoming
from projections.projection import Projection
from projections.stats import Counts

log = logging.getLogger(__name__)


class Projector:
    def __init__(
        self, settings: Settings, projection: Projection, client_id: str = "", metrics: Metrics = METRICS
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.projection = projection
        self.applier = Applier(projection)
        self.group = settings.consumer_group(f"projection-{projection.name}")
        self.topics = [settings.topic(context) for context in projection.contexts]
        self.client_id = client_id or f"projector-{projection.name}"
        self.counts = Counts()  # this process's work, for its log; the durable counters are in stats
        self._connection: Connection[Any] | None = None

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; tables are created first if missing."""
        tables.ensure(self.settings, self.projection)
        consumer = kafka.consumer(self.settings, self.group, self.topics, self.client_id)
        try:
            group = f"projection-{self.projection.name}"  # the label: without the topic prefix
            ConsumerLoop(consumer, self.handle, f"projector {self.projection.name}", group=group).run(stop)
        finally:
            self.close()

    def handle(self, deliveries: Sequence[Delivery]) -> None:
        """Apply one batch and commit it; raising makes the loop redeliver the whole batch."""
        conn = self._connected()
        with conn.transaction(), conn.cursor() as cursor:
            tables.lock_for_batch(cursor, self.settings, self.projection)
            counts = self.applier.apply_all(cursor, [Incoming.delivered(d) for d in deliveries])
            crash_point("projector.mid_batch")
        crash_point("projector.after_db_commit")
        self.counts.add(counts)
        self._count(counts)
        log.info("%s: batch of %d committed: %s", self.projection.name, len(deliveries), counts)

    def _count(self, counts: Counts) -> None:
        """What the committed batch absorbed (records applied before: their version records
        said so) and set aside, in the metrics; a batch rolled back counted nothing."""
        if counts.duplicates_skipped:
            self.metrics.duplicates.labels(layer="consumer").inc(counts.duplicates_skipped)
        if counts.dead_lettered:
            self.metrics.dead_letters.labels(consumer=self.projection.name).inc(counts.dead_lettered)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connected(self) -> Connection[Any]:
        """The projector's connection, opened again after it was lost (the batch that lost it
        was redelivered)."""
        if self._connection is None or self._connection.closed or self._connection.broken:
            self.close()
            self._connection = connect(self.settings, autocommit=True)
        return self._connection
