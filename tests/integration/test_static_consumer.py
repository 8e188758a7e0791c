"""Consumers that own fixed partitions (owner i of N: p % N == i) and commit under a group
without joining it: no rebalance when one starts, dies or pauses. What they commit is what
a restarted owner resumes from."""

import threading
import uuid
from collections.abc import Sequence

import pytest
from kafka import KafkaProducer

from infrastructure import kafka
from infrastructure.consuming import ConsumerLoop, Delivery
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(kafka_bootstrap_servers: str) -> Settings:
    return Settings(
        kafka_bootstrap_servers=kafka_bootstrap_servers, kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}."
    )


class Owner:
    """Owner `owner` of `owners`, consuming in a `ConsumerLoop` driven by the test."""

    def __init__(self, settings: Settings, topics: list[str], owner: int, owners: int) -> None:
        self.handled: list[Delivery] = []
        self.consumer = kafka.static_consumer(
            settings, settings.consumer_group("fixed"), topics, owner, owners, client_id=f"owner-{owner}"
        )
        self.loop = ConsumerLoop(self.consumer, self.handled.extend, f"owner {owner}")

    def drain(self, quiet_polls: int = 3) -> list[Delivery]:
        stop, quiet = threading.Event(), 0
        while quiet < quiet_polls:
            quiet = 0 if self.loop.poll_once(stop) else quiet + 1
        return self.handled

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def produce(settings: Settings, topic: str, label: str) -> set[bytes]:
    """Five records on each partition; returns their values."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    values = [f"{label} {p} {n}".encode() for p in range(settings.kafka_partitions) for n in range(5)]
    futures = [producer.send(topic, v, partition=int(v.split()[1])) for v in values]
    for future in futures:
        future.get(timeout=10)
    producer.close()
    return set(values)


def partitions(deliveries: Sequence[Delivery]) -> set[tuple[str, int]]:
    return {(d.topic, d.partition) for d in deliveries}


def test_two_owners_split_every_topics_partitions_and_each_reads_only_its_own(settings: Settings) -> None:
    topics = [settings.topic("orders"), settings.topic("inventory")]
    owners = [Owner(settings, topics, owner, 2) for owner in (0, 1)]
    try:
        sent = produce(settings, topics[0], "a") | produce(settings, topics[1], "b")
        first, second = (owner.drain() for owner in owners)
    finally:
        for owner in owners:
            owner.close()

    assert partitions(first) == {(t, p) for t in topics for p in (0, 2)}
    assert partitions(second) == {(t, p) for t in topics for p in (1, 3)}
    assert {d.value for d in first + second} == sent
    assert len(first) + len(second) == len(sent)


def test_a_restarted_owner_resumes_after_what_it_committed(settings: Settings) -> None:
    topic = settings.topic("orders")
    owner = Owner(settings, [topic], 1, 2)
    try:
        produce(settings, topic, "before")
        before = {d.value for d in owner.drain()}
    finally:
        owner.close()
    later = produce(settings, topic, "after")

    restarted = Owner(settings, [topic], 1, 2)
    try:
        after = {d.value for d in restarted.drain()}
    finally:
        restarted.close()

    assert after == {v for v in later if int(v.split()[1]) % 2 == 1}
    assert len(before) == 10  # five on each of partitions 1 and 3, none of them read again


def test_an_owner_number_outside_the_partitions_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="must be in"):
        kafka.static_consumer(settings, "g", [settings.topic("orders")], owner=2, owners=2, client_id="x")
    with pytest.raises(ValueError, match="owns no partition"):
        kafka.static_consumer(settings, "g", [settings.topic("orders")], owner=5, owners=6, client_id="x")
