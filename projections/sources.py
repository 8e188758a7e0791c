"""Where a rebuild reads from: the topics from offset 0 to their end, or the event store.

Both yield batches of `Incoming` records for the same `Applier`. The topics are read with
manually assigned partitions, not as a consumer group: nothing to join, no offsets to
commit, and the live projectors' group is left alone. The event store is read through each
context application's notification log and mapped to integration events exactly as the
relay publishes them.
"""

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from kafka.structs import TopicPartition

from infrastructure import kafka
from infrastructure.consuming import Delivery
from infrastructure.contracts import to_integration_event
from infrastructure.settings import Settings
from projections.errors import ReplayStalledError
from projections.incoming import Incoming

PAGE_SIZE = 500


class NotificationLog(Protocol):
    """The part of an eventsourcing application a rebuild reads: its recorder's notification
    log and its mapper. The context applications are passed in; projections import no services."""

    @property
    def recorder(self) -> Any: ...

    @property
    def mapper(self) -> Any: ...


def from_kafka(
    settings: Settings, contexts: Sequence[str], stall_timeout_s: float = 30.0
) -> Iterator[list[Incoming]]:
    """Every record of the contexts' topics from offset 0 up to the end offsets found when
    reading starts; raises `ReplayStalledError` if no record arrives for `stall_timeout_s`."""
    consumer = kafka.consumer(settings, settings.consumer_group("projection-replay"), (), "projection-replay")
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in map(settings.topic, contexts)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        deadline = time.monotonic() + stall_timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            polled = consumer.poll(timeout_ms=500)
            batch = [Incoming.delivered(Delivery.of(r)) for records in polled.values() for r in records]
            if batch:
                deadline = time.monotonic() + stall_timeout_s
                yield batch
            elif time.monotonic() > deadline:
                raise ReplayStalledError(
                    f"no records from {sorted({tp.topic for tp in partitions})} for {stall_timeout_s:.0f}s"
                )
    finally:
        consumer.close(autocommit=False)


def from_store(
    logs: Mapping[str, NotificationLog], contexts: Sequence[str], up_to: Mapping[UUID, int] | None = None
) -> Iterator[list[Incoming]]:
    """Every stored event of the contexts, context by context, in notification order; with
    `up_to`, only each aggregate's events up to the version it gives (none of one it omits)."""
    for context in contexts:
        app, start = logs[context], 1
        while page := app.recorder.select_notifications(start, PAGE_SIZE):
            if batch := [
                Incoming.stored(to_integration_event(context, app.mapper.to_domain_event(n), n.id))
                for n in page
                if up_to is None or n.originator_version <= up_to.get(n.originator_id, 0)
            ]:
                yield batch
            start = page[-1].id + 1
