"""The consume loop shared by projections and the saga: poll, handle, then commit.

Offsets are committed only after the handler returned, that is after the batch's effect is
durable in PostgreSQL. A crash anywhere before the commit redelivers the batch, so the
handler must be idempotent: projections dedupe per (aggregate id, version) in the same
transaction as the change, and the saga's commands carry ids derived from the event.
If the handler raises, nothing is committed, the consumer seeks back to the batch's first
offsets and retries after a backoff, so one bad moment cannot skip records. If the commit
fails because the group rebalanced meanwhile, the loop goes on: the records are delivered
again, to this consumer or another, and handling them again is harmless.

A topic can come back empty: deleted and re-created, or on a broker that lost its storage
(the local one keeps it in memory), to be filled again by the relay from offset 0. A
consumer's position from before would skip that many records of the new topic, so the loop
watches each topic's id (`Incarnations`) and reads a re-created topic from its beginning.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition

from infrastructure.contracts import IntegrationEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One record as delivered: where it sits in Kafka, and its bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()

    @classmethod
    def of(cls, record: ConsumerRecord) -> "Delivery":
        headers = tuple(record.headers or ())
        return cls(record.topic, record.partition, record.offset, record.key, record.value, headers)

    def event(self) -> IntegrationEvent:
        """Decode and validate the envelope; raises on a malformed (poison) record."""
        return IntegrationEvent.from_bytes(self.value)


BatchHandler = Callable[[Sequence[Delivery]], None]


class Incarnations:
    """The id of each assigned topic as last seen (Kafka 2.8+ gives every topic a new id when
    it is created, KIP-516; the local broker does too). When an id changes, the topic's
    partitions are rewound to the beginning: positions and the records polled with them
    belong to a topic that is gone. A group member is also sent back to the start by its
    rejoin (the broker forgot the group and its offsets); a consumer with partitions assigned
    by hand (`kafka.static_consumer`) has only this."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.renewals = 0
        self._ids: dict[str, UUID] = {}

    def renewed(self) -> set[str]:
        """The assigned topics re-created since the last call, now rewound to offset 0."""
        renewed = set()
        for topic in {tp.topic for tp in self.consumer.assignment()}:
            current = _topic_id(self.consumer, topic)
            if current is not None and self._ids.setdefault(topic, current) != current:
                self._ids[topic] = current
                renewed.add(topic)
        if renewed:
            self.renewals += 1
            self.consumer.seek_to_beginning(*(tp for tp in self.consumer.assignment() if tp.topic in renewed))
            log.warning(
                "%s re-created (a new topic id); reading it again from offset 0", ", ".join(sorted(renewed))
            )
        return renewed


def _topic_id(consumer: KafkaConsumer, topic: str) -> UUID | None:
    """From the consumer's own metadata, refreshed on every reconnect. kafka-python has no
    public accessor; without topic ids (an old broker or client) the check does nothing."""
    cluster: Any = getattr(getattr(consumer, "_client", None), "cluster", None)
    topic_id = getattr(cluster, "topic_id", None)
    return topic_id(topic) if callable(topic_id) else None


class ConsumerLoop:
    def __init__(
        self, consumer: KafkaConsumer, handle: BatchHandler, name: str, retry_backoff_s: float = 1.0
    ) -> None:
        self.consumer = consumer
        self.handle = handle
        self.name = name
        self.retry_backoff_s = retry_backoff_s
        self.batches_committed = 0
        self.incarnations = Incarnations(consumer)

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; the consumer is closed on the way out."""
        try:
            while not stop.is_set():
                self.poll_once(stop)
        finally:
            self.consumer.close(autocommit=False)

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """One poll-handle-commit round; returns how many records were handled."""
        polled = self.consumer.poll(timeout_ms=500)
        renewed = self.incarnations.renewed()
        deliveries = [
            Delivery.of(record)
            for tp, records in polled.items()
            if tp.topic not in renewed
            for record in records
        ]
        if not deliveries:
            return 0
        try:
            self.handle(deliveries)
        except Exception:
            log.exception(
                "%s: handling %d records failed; they will be redelivered", self.name, len(deliveries)
            )
            self._rewind(deliveries)
            if stop is not None:
                stop.wait(self.retry_backoff_s)
            return 0
        try:
            self.consumer.commit(offsets=_next_offsets(deliveries))
        except CommitFailedError:
            # The batch outlived max_poll_interval_ms and the group moved on without us: the
            # records go to the partitions' new owner (maybe us, after rejoining on the next
            # poll) and are handled again, which changes nothing.
            log.warning("%s: the group rebalanced during the batch; its records will come again", self.name)
            return len(deliveries)
        self.batches_committed += 1
        return len(deliveries)

    def _rewind(self, deliveries: Sequence[Delivery]) -> None:
        for partition, offset in _first_offsets(deliveries).items():
            self.consumer.seek(partition, offset)


def _first_offsets(deliveries: Sequence[Delivery]) -> dict[TopicPartition, int]:
    first: dict[TopicPartition, int] = {}
    for d in deliveries:
        tp = TopicPartition(d.topic, d.partition)
        first[tp] = min(first.get(tp, d.offset), d.offset)
    return first


def _next_offsets(deliveries: Sequence[Delivery]) -> dict[TopicPartition, OffsetAndMetadata]:
    last: dict[TopicPartition, int] = {}
    for d in deliveries:
        tp = TopicPartition(d.topic, d.partition)
        last[tp] = max(last.get(tp, d.offset), d.offset)
    return {tp: OffsetAndMetadata(offset + 1, "", -1) for tp, offset in last.items()}
