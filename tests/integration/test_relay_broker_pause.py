"""Failure scenario S8 (docs/FAILURE-MODES.md): the broker stops answering. The relay's sends
fail after the delivery timeout, its position stays where the acks left it, and everything
is published once the broker is back. The broker is the test's own, so pausing it disturbs no other test."""

from collections.abc import Iterator

import pytest
from support.relaying import (
    RelayWorld,
    Running,
    event_ids,
    read_topic,
    relay_for,
    relay_world,
    restock,
    stored_events,
    stored_position,
    wait_for,
    wait_until_published,
)

from infrastructure.devstack import LocalBroker
from infrastructure.relay import RelayOptions

pytestmark = pytest.mark.integration

# Sends fail 1.5 s (+1 s ack margin) after the broker froze; the lease outlasts that.
OPTIONS = RelayOptions(poll_interval_s=0.2, heartbeat_interval_s=1.0, lease_s=30.0, max_backoff_s=0.5)


@pytest.fixture
def world(database_url: str, broker: LocalBroker) -> Iterator[RelayWorld]:
    timeouts = {"kafka_request_timeout_ms": 1000, "kafka_delivery_timeout_ms": 1500}
    with relay_world(database_url, broker.bootstrap_servers, **timeouts) as world:
        yield world


def test_a_paused_broker_holds_the_position_and_after_resuming_everything_is_published(
    world: RelayWorld, broker: LocalBroker
) -> None:
    restock(world.system, skus=2)
    with Running(relay_for(world, OPTIONS)) as relay:
        wait_until_published(world.settings)
        acked = stored_position(world.settings)

        broker.pause()
        try:
            restock(world.system, skus=4)
            wait_for(lambda: relay.failed_attempts >= 2, "two failed sends", timeout_s=20)
            assert stored_position(world.settings) == acked
        finally:
            broker.resume()
        wait_until_published(world.settings, timeout_s=60)

    published = set(event_ids(read_topic(world.settings)))
    assert published == {e.event_id for e in stored_events(world.settings)}
