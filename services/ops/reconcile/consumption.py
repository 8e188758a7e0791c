"""How far each projector has consumed: its consumer group's committed offsets against where
its topics end, read from the broker with clients of the reconciliation's own (no group
joined, nothing committed).

The ends are taken once, when the wait starts, so that a busy system cannot keep the wait
going: a projector that commits that far within the timeout has consumed everything that
was published before the reconciliation began. One that does not is lagging, which is told
apart from a read model that diverged (`read_models.py` compares each model with the events
it did consume). A broker that does not answer is an error, not a lag: nothing can be told.
"""

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from infrastructure import kafka
from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS

POLL_S = 0.5
SAY_EVERY_S = 5.0
IDLE_MS = 300  # a poll this long that brings nothing: the partitions' last records are read
CLIENT_ID = "orders-reconcile"


class BrokerUnavailableError(Exception):
    """The broker did not answer; the message says where and how long it was waited for."""


@dataclass(frozen=True)
class Consumption:
    behind: Mapping[str, int]  # projection -> records its group had not committed when the wait ended
    waited_s: float


def wait_until_consumed(
    settings: Settings, timeout_s: float, say: Callable[[str], None] = print
) -> Consumption:
    """Wait up to `timeout_s` until every projector's group has committed up to where its
    topics ended when the wait started; raises BrokerUnavailableError if the broker fails."""
    started = time.monotonic()
    try:
        return _wait(settings, started, timeout_s, say)
    except KafkaError as error:
        waited = time.monotonic() - started
        raise BrokerUnavailableError(
            f"the broker at {settings.kafka_bootstrap_servers} did not answer while reading how far the"
            f" projectors have consumed ({' '.join(str(error).split()) or type(error).__name__});"
            f" gave up after {waited:.1f}s"
        ) from None


def _wait(settings: Settings, started: float, timeout_s: float, say: Callable[[str], None]) -> Consumption:
    reader = kafka.reader(settings, CLIENT_ID)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=CLIENT_ID,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            bootstrap_timeout_ms=settings.kafka_request_timeout_ms,
        )
        try:
            read = {
                name: _partitions(reader, map(settings.topic, projection.contexts))
                for name, projection in PROJECTIONS.items()
            }
            ends = _ends(
                reader, {tp for partitions in read.values() for tp in partitions}, started + timeout_s
            )
            said = started
            while True:
                behind = {
                    name: _behind(admin, settings.consumer_group(f"projection-{name}"), partitions, ends)
                    for name, partitions in read.items()
                }
                waited = time.monotonic() - started
                if not any(behind.values()) or waited >= timeout_s:
                    return Consumption(behind, waited)
                if time.monotonic() - said >= SAY_EVERY_S:
                    lagging = ", ".join(f"{name} {n}" for name, n in behind.items() if n)
                    say(f"  waiting for the projectors ({waited:.0f}s), records behind: {lagging}")
                    said = time.monotonic()
                time.sleep(POLL_S)
        finally:
            admin.close()
    finally:
        reader.close(autocommit=False)


def _partitions(reader: KafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    return [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(reader.partitions_for_topic(topic) or ())
    ]


def _ends(reader: KafkaConsumer, partitions: set[TopicPartition], until: float) -> dict[TopicPartition, int]:
    """Where each partition ends. The broker's end offsets, then whatever can be read past
    them (until the monotonic time `until`, on a topic that keeps growing): the local
    broker's can stop at its last batch's first offset (see services/ops/check/topics.py),
    and reading from there costs one batch per partition."""
    if not partitions:
        return {}
    ends: dict[TopicPartition, int] = reader.end_offsets(list(partitions))
    reader.assign(list(partitions))
    for partition, offset in ends.items():
        reader.seek(partition, offset)
    while time.monotonic() < until and (polled := reader.poll(timeout_ms=IDLE_MS)):
        for partition, records in polled.items():
            ends[partition] = records[-1].offset + 1
    return ends


def _behind(
    admin: KafkaAdminClient, group: str, partitions: list[TopicPartition], ends: Mapping[TopicPartition, int]
) -> int:
    if not partitions:
        return 0
    committed = admin.list_group_offsets({group: partitions}).get(group, {})
    done = {tp: max(0, meta.offset) for tp, meta in committed.items()}  # -1: never committed
    return sum(max(0, ends[tp] - done.get(tp, 0)) for tp in partitions)
