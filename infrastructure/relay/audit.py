"""Does the broker still hold what it acked? If not, the relay publishes its log again.

A broker can forget records it acked: the local broker keeps topics in memory and loses
them on a restart; a Kafka topic can be deleted and re-created, or lose its tail in an
unclean leader election. The relay's position would still say "published" for events no
topic holds, and nothing would ever send them again: consumers would miss them for good.
So the relay keeps, with its position, the highest offset acked on each partition, and:

- checks every batch's acks: within one life of a partition offsets only grow, so an ack
  at or below the recorded offset means the partition started over (`regressed`);
- audits the broker when it takes the lead, after a failed batch and every
  `audit_interval_s`: the topic must exist and each partition must still reach its
  recorded offset (`BrokerAudit.lost`).

Either finding sends the relay back to position 0: everything is published again, and the
consumers' deduplication absorbs whatever they had already seen. Which events were lost
cannot be told from offsets, so starting over is the only safe answer.

A partition's end comes from ListOffsets, which on the local broker stops at the first
offset of the last batch (up to a batch short); an end at or below the recorded offset is
therefore confirmed by reading that last batch before anything counts as lost.
"""

import time
from collections.abc import Mapping

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError

from infrastructure import kafka
from infrastructure.settings import Settings

Acks = Mapping[int, tuple[int, int]]  # partition -> (lowest, highest) offset acked in a batch


def regressed(recorded: Mapping[int, int], acked: Acks) -> list[int]:
    """The partitions on which a batch's acks began at or below the offset recorded before
    (its lowest offset: a big batch into a fresh partition can end beyond the old one)."""
    return sorted(p for p, (lowest, _) in acked.items() if lowest <= recorded.get(p, -1))


def merged(recorded: Mapping[int, int], acked: Acks) -> dict[int, int]:
    """The recorded offsets, raised to a batch's highest acks."""
    return {**recorded, **{p: max(highest, recorded.get(p, -1)) for p, (_, highest) in acked.items()}}


class BrokerAudit:
    def __init__(self, settings: Settings, topic: str, client_id: str) -> None:
        self.settings = settings
        self.topic = topic
        self.client_id = client_id

    def lost(self, position: int, acked: Mapping[int, int]) -> str | None:
        """Why the broker no longer holds what was acked up to `position`, or None if it
        does. Creates the topic if it is missing. Raises KafkaError if the broker cannot tell."""
        if kafka.ensure_topics(self.settings, [self.topic]) and position > 0:
            return f"{self.topic} was missing, though events up to {position} were acked on it"
        if position == 0:
            return None
        reader = kafka.reader(self.settings, self.client_id)  # fresh metadata every time
        try:
            # Offsets unknown (a position saved before they were recorded): an empty topic,
            # perhaps re-created by a consumer's metadata request, is still proof.
            return self._lost_records(reader, acked) if acked else self._empty(reader, position)
        finally:
            reader.close(autocommit=False)

    def _empty(self, reader: KafkaConsumer, position: int) -> str | None:
        partitions = [TopicPartition(self.topic, p) for p in reader.partitions_for_topic(self.topic) or ()]
        if not partitions or any(reader.end_offsets(partitions).values()):
            return None
        return f"{self.topic} is empty, though events up to {position} were acked on it"

    def _lost_records(self, reader: KafkaConsumer, acked: Mapping[int, int]) -> str | None:
        gone = sorted(set(acked) - (reader.partitions_for_topic(self.topic) or set()))
        if gone:
            return f"partitions {gone} of {self.topic} are gone"
        partitions = {p: TopicPartition(self.topic, p) for p in acked}
        ends = reader.end_offsets(list(partitions.values()))
        for p, offset in sorted(acked.items()):
            end = ends[partitions[p]]
            if end > offset:
                continue
            last = self._last_offset(reader, partitions[p], end) if end > 0 else -1
            if last < offset:
                return f"{self.topic} partition {p} ends at offset {last}, though offset {offset} was acked"
        return None

    def _last_offset(self, reader: KafkaConsumer, partition: TopicPartition, end: int) -> int:
        """The last offset of the partition, read from its last batch (which holds `end - 1`)."""
        reader.assign([partition])
        reader.seek(partition, end - 1)
        deadline = time.monotonic() + self.settings.kafka_request_timeout_ms / 1000
        last = -1
        while time.monotonic() < deadline:
            records = reader.poll(timeout_ms=200).get(partition, [])
            if records:
                last = max(last, records[-1].offset)
            elif last >= 0:
                return last
        if last < 0:
            raise KafkaTimeoutError(f"{partition} did not answer a read at offset {end - 1}")
        return last
