"""The consume loop shared by projections and the saga: poll, handle, then commit.

Offsets are committed only after the handler returned, that is after the batch's effect is
durable in PostgreSQL. A crash anywhere before the commit redelivers the batch, so the
handler must be idempotent: projections dedupe per (aggregate id, version) in the same
transaction as the change, and the saga's commands carry ids derived from the event.
If the handler raises, nothing is committed, the consumer seeks back to the batch's first
offsets and retries after a backoff, so one bad moment cannot skip records. If the commit
fails because the group rebalanced meanwhile, the loop goes on: the records are delivered
again, to this consumer or another, and handling them again is harmless.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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

    @classmethod
    def of(cls, record: ConsumerRecord) -> "Delivery":
        return cls(record.topic, record.partition, record.offset, record.key, record.value)

    def event(self) -> IntegrationEvent:
        """Decode and validate the envelope; raises on a malformed (poison) record."""
        return IntegrationEvent.from_bytes(self.value)


BatchHandler = Callable[[Sequence[Delivery]], None]


class ConsumerLoop:
    def __init__(
        self, consumer: KafkaConsumer, handle: BatchHandler, name: str, retry_backoff_s: float = 1.0
    ) -> None:
        self.consumer = consumer
        self.handle = handle
        self.name = name
        self.retry_backoff_s = retry_backoff_s
        self.batches_committed = 0

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
        deliveries = [Delivery.of(record) for records in polled.values() for record in records]
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
