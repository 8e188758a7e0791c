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

A record's ids (`Delivery.trace_ids`: its event's, command's, correlation and causation ids)
are bound to the log lines of whatever handles that one record (`infrastructure/logs.py`):
the saga's workers (`concurrent_consumer.py`) and a projection applying its event
(`projections/applying.py`). A batch as a whole is logged here with its size only.
"""

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition

from infrastructure.contracts import IntegrationEvent
from infrastructure.contracts.envelope import TRACE_IDS
from infrastructure.metrics import METRICS, Metrics

log = logging.getLogger(__name__)
LAG_EVERY_S = 5.0  # how often a consumer measures its lag (one ListOffsets request)
LAG_TIMEOUT_MS = 2_000  # the longest the consume loop waits for one measurement


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

    def trace_ids(self) -> dict[str, str]:
        """The ids among its headers (`IntegrationEvent.headers`), read without decoding the
        value: a record that cannot be decoded still names what it came from."""
        headers = dict(self.headers)
        return {name: headers[name].decode(errors="replace") for name in TRACE_IDS if name in headers}


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


class ConsumerLag:
    """The lag of this consumer's share of its group, for the metrics: over the partitions
    assigned to it, the end offsets less the group's committed offsets, summed. Measured in
    the consume loop (the consumer is not shared between threads) at most every `every_s`:
    one ListOffsets request, and a fetch of the committed offset only for a partition this
    consumer has not committed since it was assigned (one never committed counts from its
    beginning). What it commits itself, it is told (`committed`). A failed measurement keeps
    the last value."""

    def __init__(
        self, consumer: KafkaConsumer, group: str, metrics: Metrics = METRICS, every_s: float = LAG_EVERY_S
    ) -> None:
        self.consumer = consumer
        self.every_s = every_s
        self.gauge = metrics.consumer_lag.labels(group=group)
        self._committed: dict[TopicPartition, int] = {}
        self._due = 0.0

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def forget(self, topics: Collection[str]) -> None:
        """Topics re-created: what was committed on them belongs to the topics that are gone."""
        self._committed = {tp: o for tp, o in self._committed.items() if tp.topic not in topics}

    def measure_if_due(self) -> None:
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.every_s
        try:
            self.gauge.set(self.measure())
        except Exception as error:  # the broker away, or a client without these calls (a test's fake)
            log.debug("measuring the consumer lag failed: %r", error)

    def measure(self) -> int:
        partitions = set(self.consumer.assignment())
        self._committed = {tp: o for tp, o in self._committed.items() if tp in partitions}
        for tp in [tp for tp in partitions if tp not in self._committed]:
            offset = self.consumer.committed(tp, timeout_ms=LAG_TIMEOUT_MS)
            if offset is not None:
                self._committed[tp] = offset
        never = [tp for tp in partitions if tp not in self._committed]
        if never:
            self._committed.update(self.consumer.beginning_offsets(never, timeout_ms=LAG_TIMEOUT_MS))
        if not partitions:
            return 0
        ends = self.consumer.end_offsets(list(partitions), timeout_ms=LAG_TIMEOUT_MS)
        return sum(max(0, ends[tp] - self._committed[tp]) for tp in partitions)


def _topic_id(consumer: KafkaConsumer, topic: str) -> UUID | None:
    """From the consumer's own metadata, refreshed on every reconnect. kafka-python has no
    public accessor; without topic ids (an old broker or client) the check does nothing."""
    cluster: Any = getattr(getattr(consumer, "_client", None), "cluster", None)
    topic_id = getattr(cluster, "topic_id", None)
    return topic_id(topic) if callable(topic_id) else None


class ConsumerLoop:
    def __init__(
        self,
        consumer: KafkaConsumer,
        handle: BatchHandler,
        name: str,
        retry_backoff_s: float = 1.0,
        group: str = "",
        metrics: Metrics = METRICS,
    ) -> None:
        """`group` labels the lag it reports (`ConsumerLag`): its group without the topic
        prefix, which differs per test and per demo run; no lag is measured without one."""
        self.consumer = consumer
        self.handle = handle
        self.name = name
        self.retry_backoff_s = retry_backoff_s
        self.batches_committed = 0
        self.incarnations = Incarnations(consumer)
        self.lag = ConsumerLag(consumer, group, metrics) if group else None

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
        if self.lag is not None:
            self.lag.forget(renewed)
            self.lag.measure_if_due()
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
        offsets = _next_offsets(deliveries)
        try:
            self.consumer.commit(offsets=offsets)
        except CommitFailedError:
            # The batch outlived max_poll_interval_ms and the group moved on without us: the
            # records go to the partitions' new owner (maybe us, after rejoining on the next
            # poll) and are handled again, which changes nothing.
            log.warning("%s: the group rebalanced during the batch; its records will come again", self.name)
            return len(deliveries)
        self.batches_committed += 1
        if self.lag is not None:
            self.lag.committed({tp: committed.offset for tp, committed in offsets.items()})
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
