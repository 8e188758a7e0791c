"""Kafka clients configured for this system's guarantees.

Producer: every send waits for all in-sync replicas (acks=all), one request in flight per
connection so a retried batch cannot overtake the next one (per-key order holds), and a
bounded delivery timeout so a dead broker surfaces as a failed send instead of a hang.
No idempotent producer and no transactions: the local broker does not hide aborted ones,
so nothing relies on them.

Consumer: auto-commit off. Offsets are committed by the caller only after the effect of
the records is durable in PostgreSQL, which makes delivery at-least-once and the
consumers' deduplication what turns it into exactly-once effects.
"""

from collections.abc import Sequence

from kafka import KafkaConsumer, KafkaProducer

from infrastructure.settings import Settings


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
    )


def consumer(
    settings: Settings, group_id: str, topics: Sequence[str], client_id: str, max_poll_records: int = 500
) -> KafkaConsumer:
    """A batch must be handled within max_poll_interval_ms, or the group moves on without the
    consumer and its commit fails; a consumer whose records are slow (calls over HTTP) asks
    for fewer at a time."""
    return KafkaConsumer(
        *topics,
        bootstrap_servers=_servers(settings),
        client_id=client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # The local broker makes a joining member wait for the rebalance timeout (which is
        # max_poll_interval_ms); a small value keeps restarts and rebalances quick.
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        session_timeout_ms=min(settings.kafka_max_poll_interval_ms, 10_000),
        heartbeat_interval_ms=1_000,
        max_poll_records=max_poll_records,
    )


def _servers(settings: Settings) -> list[str]:
    if not settings.kafka_bootstrap_servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is not set (run `orders dev up` and source .devstack/env)")
    return settings.kafka_bootstrap_servers.split(",")
