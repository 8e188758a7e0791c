"""The broker restarts and forgets every topic, record and committed offset (the local broker
keeps them in memory). The relay notices that what it had published is gone and publishes
its log again from the start; consumers read the new topics from their beginning, so none
skips a record of them. The broker is the test's own, restarted on the same port."""

import threading
import uuid
from collections.abc import Iterator, Sequence

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from support.projecting import checksum_of, projectors_running
from support.relaying import (
    CONTEXT,
    RelayWorld,
    Running,
    relay_for,
    relay_world,
    restock,
    stored_events,
    wait_for,
)

from infrastructure import kafka
from infrastructure.consuming import ConsumerLoop, Delivery
from infrastructure.database import connect
from infrastructure.devstack import LocalBroker
from infrastructure.relay import PublishError, Relay, RelayOptions
from infrastructure.settings import Settings
from projections.rebuild import rebuild_from_events
from projections.stock import Stock
from services.ops.check import store

pytestmark = pytest.mark.integration

# Sends fail quickly while the broker is down; the leader audits the broker every second.
OPTIONS = RelayOptions(poll_interval_s=0.2, heartbeat_interval_s=1.0, lease_s=30.0, audit_interval_s=1.0)
STOCK = Stock()


@pytest.fixture
def world(database_url: str, broker: LocalBroker) -> Iterator[RelayWorld]:
    quick = {
        "kafka_request_timeout_ms": 1000,
        "kafka_delivery_timeout_ms": 1500,
        "kafka_max_poll_interval_ms": 2000,
    }
    with relay_world(database_url, broker.bootstrap_servers, **quick) as world:
        yield world


def restart(broker: LocalBroker) -> None:
    broker.stop()
    broker.start()


def on_the_topic(settings: Settings, topic: str) -> set[str]:
    """The event ids of every record on `topic`, read from offset 0 by a client of its own
    until a poll brings nothing (the broker's end offsets can be a batch short)."""
    reader = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        if not partitions:  # no such topic (yet)
            return set()
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        ids: set[str] = set()
        while polled := reader.poll(timeout_ms=1000):
            ids |= {dict(r.headers)["event_id"].decode() for batch in polled.values() for r in batch}
        return ids
    finally:
        reader.close(autocommit=False)


def projection_caught_up(settings: Settings) -> bool:
    """The stock projection has applied every inventory aggregate up to its stored version."""
    with connect(settings) as conn:
        stored = store.max_versions(conn, f"{CONTEXT}_events")
        return not list(store.behind(stored, store.applied_versions(conn, STOCK.name)))


def parked(settings: Settings) -> int:
    with connect(settings) as conn:
        row = conn.execute(
            "SELECT count(*) FROM projection_parked WHERE projection = %s", (STOCK.name,)
        ).fetchone()
        return int(row[0]) if row else 0


def test_after_a_broker_restart_every_event_is_published_again_and_the_projection_misses_none(
    world: RelayWorld, broker: LocalBroker
) -> None:
    settings, topic = world.settings, world.settings.topic(CONTEXT)
    restock(world.system, skus=5, rounds=10)
    with Running(relay_for(world, OPTIONS)) as relay, projectors_running(settings, STOCK):
        wait_for(lambda: projection_caught_up(settings), "the projection to apply the first events", 60)

        broker.stop()
        restock(world.system, skus=5, rounds=2)  # committed while the broker is down
        broker.start()
        restock(world.system, skus=7, rounds=3)  # and while it comes back, two SKUs new

        stored = {event.event_id for event in stored_events(settings)}
        wait_for(lambda: stored <= on_the_topic(settings, topic), "every stored event on the topic", 60)
        wait_for(lambda: projection_caught_up(settings), "the projection to apply every event", 60)
        assert relay.restarts >= 1

    fresh = rebuild_from_events(settings, STOCK, {CONTEXT: world.system.inventory}, dry_run=True)
    assert checksum_of(settings, STOCK) == fresh.checksum
    assert parked(settings) == 0


def test_an_idle_relay_publishes_everything_again_once_the_broker_is_back(
    world: RelayWorld, broker: LocalBroker
) -> None:
    """No new event to send, so only the audit can notice: the topic is gone."""
    settings, topic = world.settings, world.settings.topic(CONTEXT)
    restock(world.system, skus=3, rounds=2)
    stored = {event.event_id for event in stored_events(settings)}
    with Running(relay_for(world, OPTIONS)) as relay:
        wait_for(lambda: stored <= on_the_topic(settings, topic), "the events on the topic")
        restart(broker)
        wait_for(lambda: stored <= on_the_topic(settings, topic), "the events on the topic again", 30)
    assert relay.restarts == 1


def test_a_topic_re_created_empty_by_a_consumer_is_noticed_without_recorded_offsets(
    world: RelayWorld, broker: LocalBroker
) -> None:
    """A position saved before offsets were recorded, and a topic that exists again because
    a subscriber's metadata request made the broker create it: its emptiness is the proof."""
    settings, topic = world.settings, world.settings.topic(CONTEXT)
    restock(world.system, skus=3, rounds=2)
    stored = {event.event_id for event in stored_events(settings)}
    with Running(relay_for(world, OPTIONS)):
        wait_for(lambda: stored <= on_the_topic(settings, topic), "the events on the topic")
    with connect(settings, autocommit=True) as conn:
        conn.execute("UPDATE relay_positions SET acked = '{}'")
    restart(broker)
    subscriber = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap_servers)  # no group: quick to close
    subscriber.poll(timeout_ms=300)
    subscriber.close(autocommit=False)
    assert on_the_topic(settings, topic) == set()

    with Running(relay_for(world, OPTIONS)) as relay:
        wait_for(lambda: stored <= on_the_topic(settings, topic), "the events on the topic again", 30)
    assert relay.restarts == 1


def test_an_ack_at_an_offset_already_used_sends_the_relay_back_to_position_0(
    world: RelayWorld, broker: LocalBroker
) -> None:
    """The broker came back and the relay's next batch lands at offsets it had recorded
    before: the partitions started over, so the position cannot be trusted."""
    settings, topic = world.settings, world.settings.topic(CONTEXT)
    restock(world.system, skus=4, rounds=2)
    relay = relay_for(world, OPTIONS)
    assert relay.leadership.try_acquire()
    try:
        while publish_next(relay):
            pass
        restart(broker)
        kafka.ensure_topics(settings, [topic])
        restock(world.system, skus=4)  # one more event on each aggregate, on the same partitions
        publish_next(relay)
        assert (relay.restarts, relay.position, relay.leadership.acked) == (1, 0, {})
        while publish_next(relay):
            pass
    finally:
        relay.leadership.step_down()
        relay.publisher.close()
    assert relay.position == stored_events(settings)[-1].notification_id
    assert {event.event_id for event in stored_events(settings)} <= on_the_topic(settings, topic)


def publish_next(relay: Relay, attempts: int = 5) -> int:
    """One batch, tried again while the reconnecting producer fails it."""
    for attempt in range(attempts):
        try:
            return relay.publish_batch()
        except PublishError:
            if attempt == attempts - 1:
                raise
    return 0


def test_a_consumer_with_fixed_partitions_reads_a_re_created_topic_from_its_beginning(
    broker: LocalBroker,
) -> None:
    """A consumer at offset 20 of each partition meets the topic again holding 40 records per
    partition: without the topic-id check it would go on at 20 and skip the first 20."""
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, kafka_request_timeout_ms=1000)
    topic = f"restart-{uuid.uuid4().hex[:8]}"
    handled: list[bytes] = []

    def handle(deliveries: Sequence[Delivery]) -> None:
        handled.extend(d.value for d in deliveries)

    consumer = kafka.static_consumer(settings, "fixed", [topic], owner=0, owners=1, client_id="fixed")
    loop = ConsumerLoop(consumer, handle, "fixed")
    try:
        produce(settings, topic, "before", per_partition=20)
        drain(loop)
        assert len(handled) == 80

        restart(broker)
        kafka.ensure_topics(settings, [topic])
        produce(settings, topic, "after", per_partition=40)
        drain(loop)
    finally:
        consumer.close(autocommit=False)

    after = {value for value in handled if value.startswith(b"after")}
    assert after == {f"after {p} {n}".encode() for p in range(4) for n in range(40)}
    assert loop.incarnations.renewals >= 1


def produce(settings: Settings, topic: str, label: str, per_partition: int) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    try:
        futures = [
            producer.send(topic, f"{label} {p} {n}".encode(), partition=p)
            for p in range(settings.kafka_partitions)
            for n in range(per_partition)
        ]
        for future in futures:
            future.get(timeout=10)
    finally:
        producer.close()


def drain(loop: ConsumerLoop, quiet_polls: int = 4) -> None:
    """Poll until `quiet_polls` polls in a row bring nothing."""
    stop, quiet = threading.Event(), 0
    while quiet < quiet_polls:
        quiet = 0 if loop.poll_once(stop) else quiet + 1
