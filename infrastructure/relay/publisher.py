"""Send a batch of integration events and report success only if the broker acked every one.

The producer waits for all in-sync replicas (acks=all) with one request in flight, so the
records of one key reach the partition in the order they were sent. A batch either comes
back fully acked or raises PublishError; the caller then resends the whole batch from its
stored position. Records of a failed batch that did reach the broker become duplicates,
which consumers skip by event id: at-least-once, never lost.

The acks also say where each record landed; `publish` returns the lowest and the highest
offset per partition, with which the relay notices a broker that lost records (`audit`).
"""

import logging
import time
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from infrastructure.contracts import IntegrationEvent
from infrastructure.kafka import producer
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

# Beyond the delivery timeout, in which the producer itself reports every record as failed.
ACK_MARGIN_S = 1.0


class PublishError(RuntimeError):
    """Not every record of the batch was acked; none of it may count as published."""


class Publisher:
    def __init__(self, settings: Settings, topic: str, client_id: str) -> None:
        self.settings = settings
        self.topic = topic
        self.client_id = client_id
        self._producer: KafkaProducer | None = None

    @property
    def ack_timeout_s(self) -> float:
        """How long one batch may wait for its acks before it counts as failed."""
        return self.settings.kafka_delivery_timeout_ms / 1000 + ACK_MARGIN_S

    def publish(self, events: Sequence[IntegrationEvent]) -> dict[int, tuple[int, int]]:
        """Send, flush, then check every record's own future: a flush that returns says
        nothing about whether each record succeeded. Returns the lowest and the highest
        acked offset of each partition written to."""
        try:
            kafka = self._connected()
            futures = [
                kafka.send(self.topic, key=event.key, value=event.to_bytes(), headers=event.headers())
                for event in events
            ]
            deadline = time.monotonic() + self.ack_timeout_s
            kafka.flush(timeout=self.ack_timeout_s)
            acked: dict[int, tuple[int, int]] = {}
            for future in futures:
                record = future.get(timeout=max(0.0, deadline - time.monotonic()))
                low, high = acked.get(record.partition, (record.offset, record.offset))
                acked[record.partition] = (min(low, record.offset), max(high, record.offset))
        except KafkaError as error:
            raise PublishError(f"{len(events)} events to {self.topic} not acked: {error!r}") from error
        return acked

    def close(self) -> None:
        """Give queued records a last chance; any left are unacked and will be resent from
        the stored position by whichever relay leads next."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=self.ack_timeout_s)
            except KafkaError as error:
                log.warning("closing the producer for %s left records unsent: %r", self.topic, error)
            self._producer = None

    def _connected(self) -> KafkaProducer:
        """Created on first use, so a relay can start (and take the lead) while Kafka is down."""
        if self._producer is None:
            self._producer = producer(self.settings, client_id=self.client_id)
        return self._producer
