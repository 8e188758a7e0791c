"""Kafka clients configured for this system's guarantees.

Producer: every send waits for all in-sync replicas (acks=all), one request in flight per
connection so a retried batch cannot overtake the next one (per-key order holds), and a
bounded delivery timeout so a dead broker surfaces as a failed send instead of a hang.
No idempotent producer and no transactions: the local broker does not hide aborted ones,
so nothing relies on them.

Consumer: auto-commit off. Offsets are committed by the caller only after the effect of
the records is durable in PostgreSQL, which makes delivery at-least-once and the
consumers' deduplication what turns it into exactly-once effects.

Topics: `ensure_topics` creates them with `settings.kafka_partitions` partitions before
anyone produces or subscribes. Left to themselves, brokers create a topic on first mention
(the local broker does so for any consumer's metadata request, whatever the client asks)
with their default partition count, and whoever mentions it first decides.
"""

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

from infrastructure.settings import Settings

log = logging.getLogger(__name__)


def producer(settings: Settings, client_id: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=_servers(settings),
        client_id=client_id,
        acks="all",
        # kafka-python 3 enables its idempotent producer by default; after batches expire
        # against a paused broker it never delivers again. Order per key is kept by one
        # request in flight, and consumers dedupe by event id.
        enable_idempotence=False,
        max_in_flight_requests_per_connection=1,
        max_block_ms=settings.kafka_delivery_timeout_ms,
        linger_ms=5,
        retries=3,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        delivery_timeout_ms=settings.kafka_delivery_timeout_ms,
        metrics_enabled=False,  # nothing reads kafka-python's own metrics; they cost a tenth of its CPU
    )


def consumer(
    settings: Settings, group_id: str, topics: Sequence[str], client_id: str, max_poll_records: int = 500
) -> KafkaConsumer:
    """A member of `group_id`, subscribed to `topics`, which are created first if missing.

    A batch must be handled within max_poll_interval_ms, or the group moves on without the
    consumer and its commit fails; a consumer whose records are slow (calls over HTTP) asks
    for fewer at a time."""
    ensure_topics(settings, topics)
    return KafkaConsumer(*topics, **_consumer_config(settings, group_id, client_id, max_poll_records))


def static_consumer(
    settings: Settings,
    group_id: str,
    topics: Sequence[str],
    owner: int,
    owners: int,
    client_id: str,
    max_poll_records: int = 500,
    fetch_max_wait_ms: int = 500,
) -> KafkaConsumer:
    """Owner `owner` of `owners`: the partitions p with p % owners == owner of every topic,
    assigned by hand. It commits under `group_id` but never joins the group, so no member's
    start, crash or pause ever stalls another (no rebalance); its positions start from the
    group's committed offsets, or from the beginning. Each owner number must run once: a
    partition is read by nobody while its owner is down."""
    if not 0 <= owner < owners:
        raise ValueError(f"owner must be in 0..{owners - 1}, got {owner}")
    ensure_topics(settings, topics)
    config = _consumer_config(settings, group_id, client_id, max_poll_records)
    consumer = KafkaConsumer(**config, fetch_max_wait_ms=fetch_max_wait_ms)
    owned = owned_partitions(consumer, topics, owner, owners)
    if topics and not owned:
        consumer.close(autocommit=False)
        raise ValueError(f"owner {owner} of {owners} owns no partition of {', '.join(topics)}")
    consumer.assign(owned)
    return consumer


def owned_partitions(
    consumer: KafkaConsumer, topics: Sequence[str], owner: int, owners: int
) -> list[TopicPartition]:
    """The partitions p of each topic with p % owners == owner, as the broker has them now."""
    return [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(consumer.partitions_for_topic(topic) or ())
        if partition % owners == owner
    ]


def _consumer_config(
    settings: Settings, group_id: str, client_id: str, max_poll_records: int
) -> dict[str, Any]:
    return {
        "bootstrap_servers": _servers(settings),
        "client_id": client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # The local broker makes a joining member wait for the rebalance timeout (which is
        # max_poll_interval_ms); a small value keeps restarts and rebalances quick.
        "max_poll_interval_ms": settings.kafka_max_poll_interval_ms,
        "session_timeout_ms": min(settings.kafka_max_poll_interval_ms, 10_000),
        "heartbeat_interval_ms": 1_000,
        "max_poll_records": max_poll_records,
        "metrics_enabled": False,  # as for the producer
    }


def reader(settings: Settings, client_id: str) -> KafkaConsumer:
    """A consumer without a group, for partitions it assigns itself: reads nothing until told
    where, commits nothing."""
    return KafkaConsumer(
        bootstrap_servers=_servers(settings),
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=settings.kafka_request_timeout_ms + 1_000,  # above the fetch wait
        bootstrap_timeout_ms=settings.kafka_request_timeout_ms,  # not 30 s when the broker hangs
    )


def ensure_topics(settings: Settings, topics: Iterable[str]) -> set[str]:
    """Create each missing topic with `settings.kafka_partitions` partitions; returns the ones
    this call created. Idempotent, and a topic created meanwhile by another process counts
    as existing. A topic that exists with another partition count is left alone (changing it
    would move keys between partitions) and logged."""
    wanted = sorted(set(topics))
    if not wanted:
        return set()
    admin = KafkaAdminClient(
        bootstrap_servers=_servers(settings),
        client_id="ensure-topics",
        request_timeout_ms=settings.kafka_request_timeout_ms,
        bootstrap_timeout_ms=settings.kafka_request_timeout_ms,
    )
    try:
        described = {topic["name"]: topic for topic in admin.describe_topics(wanted)}
        missing = [t for t in wanted if described[t]["error_code"] == UnknownTopicOrPartitionError.errno]
        for topic in set(wanted) - set(missing):
            if (count := len(described[topic]["partitions"] or ())) != settings.kafka_partitions:
                log.warning(
                    "topic %s has %d partitions, not %d; left as it is",
                    topic,
                    count,
                    settings.kafka_partitions,
                )
        return _create(admin, settings, missing) if missing else set()
    finally:
        admin.close()


def _create(admin: KafkaAdminClient, settings: Settings, topics: Sequence[str]) -> set[str]:
    # replication_factor -1: the broker's default (Kafka 2.4+, KIP-464); the local broker has one.
    request = {t: {"num_partitions": settings.kafka_partitions, "replication_factor": -1} for t in topics}
    response = admin.create_topics(request, raise_errors=False, wait_for_metadata=True)
    created = set()
    for result in response["topics"]:
        if result["error_code"] == 0:
            created.add(result["name"])
        elif (error := for_code(result["error_code"])) is not TopicAlreadyExistsError:
            raise error(f"creating topic {result['name']}: {result.get('error_message')}")
    log.info(
        "created %s with %d partitions", ", ".join(sorted(created)) or "no topic", settings.kafka_partitions
    )
    return created


def _servers(settings: Settings) -> list[str]:
    if not settings.kafka_bootstrap_servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is not set (run `orders dev up` and source .devstack/env)")
    return settings.kafka_bootstrap_servers.split(",")
