"""The relay's audit of the broker on a healthy broker: what it acked is found again, even
where the local broker's end offsets stop a batch short, so nothing is republished."""

from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, TopicPartition
from support.relaying import RelayWorld, Running, relay_for, relay_world, restock, wait_until_published

from infrastructure.relay.audit import BrokerAudit, merged, regressed

pytestmark = pytest.mark.integration


@pytest.fixture
def world(database_url: str, kafka_bootstrap_servers: str) -> Iterator[RelayWorld]:
    with relay_world(database_url, kafka_bootstrap_servers) as world:
        yield world


def test_what_was_acked_is_found_though_the_end_offsets_stop_at_the_last_batchs_start(
    world: RelayWorld,
) -> None:
    restock(world.system, skus=12, rounds=3)  # one batch of 48 events: many records per partition
    relay = relay_for(world)
    with Running(relay):
        wait_until_published(world.settings)
    acked, topic = relay.leadership.acked, world.settings.topic("inventory")
    reader = KafkaConsumer(bootstrap_servers=world.settings.kafka_bootstrap_servers)
    ends = reader.end_offsets([TopicPartition(topic, p) for p in acked])
    reader.close()

    # On the local broker some ends lie at or below an acked offset (Kafka's are exact); the
    # audit then reads the partition's last batch instead of calling the records lost.
    short = [tp.partition for tp, end in ends.items() if end <= acked[tp.partition]]
    print(f"partitions whose end offset is short of the acks: {short}")
    assert BrokerAudit(world.settings, topic, "audit").lost(relay.position, acked) is None
    assert relay.restarts == 0


def test_a_batch_acked_from_or_below_a_recorded_offset_means_the_partition_started_over() -> None:
    recorded = {0: 10, 1: 4}
    assert regressed(recorded, {0: (11, 12), 2: (0, 3)}) == []
    assert regressed(recorded, {0: (3, 3), 1: (4, 5)}) == [0, 1]
    assert regressed(recorded, {1: (0, 90)}) == [1], "a big batch into a fresh partition"
    assert merged(recorded, {1: (5, 9), 2: (0, 0)}) == {0: 10, 1: 9, 2: 0}
