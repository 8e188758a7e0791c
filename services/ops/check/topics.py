"""Every record of the contexts' topics, read by an independent client from offset 0.

The scanner assigns itself every partition (no consumer group, nothing committed) and keeps
reading as records arrive, so `orders check --wait` can call `catch_up` on every round at
the cost of the new records only. It remembers which (aggregate, version) each record
carries, from the documented headers, and where each partition really ends: the local
broker's `end_offsets` can stop at the last batch's first offset, so the end is taken from
the records themselves.
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from infrastructure import kafka
from infrastructure.settings import Settings

Event = tuple[UUID, int]  # (aggregate id, version)


class TopicScanner:
    def __init__(self, settings: Settings, contexts: Sequence[str]) -> None:
        self.settings = settings
        self.contexts = tuple(contexts)  # whose topics to read (`Registry.names`)
        self.seen: Counter[Event] = Counter()  # how often each event was published
        self.ends: dict[TopicPartition, int] = {}  # next offset, from the records read
        self.unidentified = 0  # records without the documented headers
        self._consumer = kafka.consumer(settings, settings.consumer_group("check"), (), "orders-check")
        self._assigned: set[TopicPartition] = set()

    def catch_up(self, idle_ms: int = 300) -> None:
        """Read until a poll of `idle_ms` brings nothing new."""
        self._assign_new_partitions()
        while self._assigned:
            polled = self._consumer.poll(timeout_ms=idle_ms, max_records=5_000)
            if not polled:
                return
            for partition, records in polled.items():
                for record in records:
                    self._note(record)
                self.ends[partition] = records[-1].offset + 1

    def committed_lag(self, group: str) -> int:
        """Records the consumer group has not committed yet, against the ends read so far."""
        reader = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.consumer_group(group),
            enable_auto_commit=False,
        )
        try:
            return sum(max(0, end - (reader.committed(tp) or 0)) for tp, end in self.ends.items())
        finally:
            reader.close(autocommit=False)

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def _assign_new_partitions(self) -> None:
        found = {
            TopicPartition(topic, partition)
            for topic in map(self.settings.topic, self.contexts)
            for partition in self._consumer.partitions_for_topic(topic) or ()
        }
        if found - self._assigned:  # a topic appeared: read everything again from the start
            self._assigned = found
            self.seen.clear()
            self.ends.clear()
            self.unidentified = 0
            self._consumer.assign(sorted(found))
            self._consumer.seek_to_beginning(*found)

    def _note(self, record: Any) -> None:
        headers = {key: value for key, value in record.headers or ()}
        try:
            event = (UUID(headers["aggregate_id"].decode()), int(headers["aggregate_version"]))
        except (KeyError, TypeError, ValueError):
            self.unidentified += 1
            return
        self.seen[event] += 1
