"""A batch that outlives max_poll_interval_ms: the group moves on, the commit fails, and the
consume loop goes on instead of dying; the batch comes again and is then committed.

This is what happens to the saga when a provider answers slowly. Dying there (as the loop
once did) cost a process restart and a rebalance each time; going on costs one redelivery,
which the handlers absorb."""

import threading
import uuid
from collections.abc import Sequence

import pytest
from kafka import KafkaProducer, TopicPartition

from infrastructure import kafka
from infrastructure.consuming import ConsumerLoop, Delivery
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration


def test_a_batch_that_outlives_the_poll_interval_comes_again_and_the_loop_goes_on(
    kafka_bootstrap_servers: str,
) -> None:
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap_servers, kafka_max_poll_interval_ms=1_500)
    topic = f"rebalance-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    for n in range(3):
        producer.send(topic, f"record {n}".encode(), key=b"one-key").get(timeout=10)
    producer.close()

    handled: list[list[bytes]] = []
    stop = threading.Event()

    def slow_first_time(deliveries: Sequence[Delivery]) -> None:
        handled.append([d.value for d in deliveries])
        if len(handled) == 1:
            stop.wait(4.5)  # three poll intervals: the group evicts this consumer meanwhile

    consumer = kafka.consumer(settings, f"group-{uuid.uuid4().hex[:8]}", [topic], client_id="slow")
    loop = ConsumerLoop(consumer, slow_first_time, "slow")
    try:
        rounds = 0
        while loop.batches_committed == 0 and rounds < 60:  # poll_once raises if the loop would die
            loop.poll_once(stop)
            rounds += 1
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        committed = sum(consumer.committed(tp) or 0 for tp in partitions)
    finally:
        stop.set()
        consumer.close(autocommit=False)

    assert loop.batches_committed == 1
    assert len(handled) >= 2, "the first batch's commit should have failed and the batch come again"
    assert sorted(value for batch in handled[1:] for value in batch) == [
        b"record 0",
        b"record 1",
        b"record 2",
    ]
    assert committed == 3
