"""The relay as a process: killed between send and position save (failure scenario S4), and
paused past its lease while another relay takes over (S5). Nothing is lost either way."""

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.relaying import (
    RelayWorld,
    Running,
    event_ids,
    lock_holders,
    read_topic,
    relay_for,
    relay_process,
    relay_world,
    restock,
    stored_events,
    stored_position,
    wait_for,
    wait_until_published,
)

from infrastructure.faults.crash_points import CRASH_EXIT_CODE
from infrastructure.relay import RelayOptions

pytestmark = pytest.mark.integration

# The successor's lease is short so the test is quick; it still exceeds one ack timeout
# (1 s delivery + 1 s margin) plus the backoff, as the relay demands.
SHORT_LEASE = RelayOptions(
    poll_interval_s=0.2, standby_retry_s=0.2, heartbeat_interval_s=1.0, lease_s=3.0, max_backoff_s=0.5
)


@pytest.fixture
def world(database_url: str, kafka_bootstrap_servers: str) -> Iterator[RelayWorld]:
    timeouts = {"kafka_request_timeout_ms": 500, "kafka_delivery_timeout_ms": 1000}
    with relay_world(database_url, kafka_bootstrap_servers, **timeouts) as world:
        yield world


def test_a_relay_killed_after_the_acks_republishes_its_batch_and_loses_nothing(
    world: RelayWorld, tmp_path: Path
) -> None:
    restock(world.system, skus=3, rounds=2)
    stored = {e.event_id for e in stored_events(world.settings)}
    log = tmp_path / "relay.log"
    with relay_process(world.settings, log, ORDERS_CRASH_POINTS="relay.after_send") as crashed:
        assert crashed.wait(timeout=60) == CRASH_EXIT_CODE, log.read_text()
    assert stored_position(world.settings)[0] == 0
    assert sorted(event_ids(read_topic(world.settings))) == sorted(stored)

    with Running(relay_for(world)):
        wait_until_published(world.settings)

    copies = Counter(event_ids(read_topic(world.settings)))
    assert set(copies) == stored, "every stored event is on the topic"
    assert set(copies.values()) == {2}, "the batch whose position was not saved went out again"


def test_a_paused_relay_is_deposed_after_its_lease_and_publishes_nothing_when_it_resumes(
    world: RelayWorld, tmp_path: Path
) -> None:
    log = tmp_path / "paused.log"
    restock(world.system, skus=2)
    with relay_process(world.settings, log) as paused:
        wait_until_published(world.settings)
        os.kill(paused.pid, signal.SIGSTOP)
        with Running(relay_for(world, SHORT_LEASE)) as successor:
            restock(world.system, skus=4)
            wait_until_published(world.settings)
            assert successor.is_leader

            os.kill(paused.pid, signal.SIGCONT)
            restock(world.system, skus=1)
            wait_for(lambda: "standing by" in log.read_text(), "the resumed relay to step down")
            wait_until_published(world.settings)
            assert len(lock_holders(world.settings)) == 1
        paused.send_signal(signal.SIGTERM)
        assert paused.wait(timeout=30) == 0, log.read_text()

    copies = Counter(event_ids(read_topic(world.settings)))
    assert set(copies) == {e.event_id for e in stored_events(world.settings)}
    assert set(copies.values()) == {1}, "the deposed relay sent nothing after it resumed"
