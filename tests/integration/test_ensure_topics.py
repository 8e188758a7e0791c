"""Topics are created with ORDERS_KAFKA_PARTITIONS partitions before anyone uses them; any
number of processes may ask at once, and an existing topic is left as it is."""

import threading
import uuid

import pytest
from kafka import KafkaConsumer

from infrastructure import kafka
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(kafka_bootstrap_servers: str) -> Settings:
    return Settings(kafka_bootstrap_servers=kafka_bootstrap_servers, kafka_partitions=6)


def partition_counts(settings: Settings, topics: list[str]) -> list[int]:
    reader = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        return [len(reader.partitions_for_topic(topic) or ()) for topic in topics]
    finally:
        reader.close()


def test_missing_topics_are_created_once_with_the_configured_partitions(settings: Settings) -> None:
    topics = [f"ensure-{uuid.uuid4().hex[:8]}.{n}" for n in range(2)]
    assert kafka.ensure_topics(settings, topics) == set(topics)
    assert kafka.ensure_topics(settings, topics) == set()
    assert partition_counts(settings, topics) == [6, 6]


def test_concurrent_creators_all_succeed_and_one_of_them_creates(settings: Settings) -> None:
    topic = f"ensure-{uuid.uuid4().hex[:8]}"
    created: list[set[str]] = []
    threads = [
        threading.Thread(target=lambda: created.append(kafka.ensure_topics(settings, [topic])))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(created) == 4
    assert sorted(map(len, created)) == [0, 0, 0, 1]
    assert partition_counts(settings, [topic]) == [6]


def test_an_existing_topic_keeps_its_partitions(settings: Settings) -> None:
    topic = f"ensure-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(settings, [topic])
    assert kafka.ensure_topics(settings.replace(kafka_partitions=2), [topic]) == set()
    assert partition_counts(settings, [topic]) == [6]
