"""The relay publishes every stored event once, in order per aggregate, with the documented
key and headers; an independent Kafka client (kafka-python, and kcat if installed) reads them."""

import json
import shutil
import subprocess
from collections import defaultdict
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

from infrastructure.contracts import IntegrationEvent
from infrastructure.relay import RelayOptions

pytestmark = pytest.mark.integration

HEADERS = [
    "event_id",
    "event_type",
    "schema_version",
    "aggregate_id",
    "aggregate_version",
    "notification_id",
    "command_id",
    "correlation_id",
    "causation_id",
    "occurred_at",
    "content_type",
]


@pytest.fixture
def world(database_url: str, kafka_bootstrap_servers: str) -> Iterator[RelayWorld]:
    with relay_world(database_url, kafka_bootstrap_servers) as world:
        yield world


def publish_everything(world: RelayWorld) -> None:
    with Running(relay_for(world)):
        wait_until_published(world.settings)


def test_every_stored_event_is_published_once_in_order_per_aggregate(world: RelayWorld) -> None:
    restock(world.system, skus=4, rounds=3)
    publish_everything(world)

    records = read_topic(world.settings)
    stored = stored_events(world.settings)
    assert sorted(event_ids(records)) == sorted(e.event_id for e in stored)
    versions: dict[bytes, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        versions[record.key].append(int(dict(record.headers)["aggregate_version"]))
    assert {key.decode() for key in versions} == {e.aggregate_id for e in stored}
    assert all(published == list(range(1, len(published) + 1)) for published in versions.values())


def test_each_record_is_keyed_by_aggregate_and_carries_the_documented_headers(world: RelayWorld) -> None:
    restock(world.system, skus=2, rounds=2)
    publish_everything(world)

    by_id = {e.event_id: e for e in stored_events(world.settings)}
    for record in read_topic(world.settings):
        headers = dict(record.headers)
        event = IntegrationEvent.from_bytes(record.value)
        stored = by_id[event.event_id]
        assert [name for name, _ in record.headers] == HEADERS
        assert record.key == stored.aggregate_id.encode()
        assert headers["notification_id"] == str(stored.notification_id).encode()
        assert headers["event_type"].decode() in {"StockItemRegistered", "StockRestocked"}
        assert record.headers == event.headers()


def kcat_cannot_read(bootstrap_servers: str) -> str | None:
    """Why kcat cannot be used against this broker, or None if it can."""
    if shutil.which("kcat") is None:
        return "kcat is not installed (Debian: apt-get install -y kcat)"
    probe = subprocess.run(["kcat", "-L", "-b", bootstrap_servers, "-m", "2"], capture_output=True, timeout=9)
    if probe.returncode != 0:
        # Seen with Debian 12's kcat (librdkafka 2.0.2) and the local Tansu broker: Tansu sends
        # every ApiVersions v3 tagged field, defaults included, and that librdkafka misparses them.
        return f"kcat cannot talk to the broker at {bootstrap_servers} (ApiVersions handshake failed)"
    return None


def test_kcat_reads_the_documented_keys_and_headers(world: RelayWorld) -> None:
    reason = kcat_cannot_read(str(world.settings.kafka_bootstrap_servers))
    if reason:
        pytest.skip(reason)
    restock(world.system, skus=2, rounds=2)
    publish_everything(world)

    command = ["kcat", "-C", "-b", str(world.settings.kafka_bootstrap_servers), "-t"]
    command += [world.settings.topic("inventory"), "-e", "-J", "-q"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    messages = [json.loads(line) for line in output.splitlines()]
    stored = {e.event_id: e for e in stored_events(world.settings)}
    assert len(messages) == len(stored)
    for message in messages:
        headers = dict(zip(message["headers"][::2], message["headers"][1::2], strict=True))
        assert list(headers) == HEADERS
        assert message["key"] == stored[headers["event_id"]].aggregate_id
        assert headers["event_id"] == f"{headers['aggregate_id']}:{headers['aggregate_version']}"
        assert json.loads(message["payload"])["event_id"] == headers["event_id"]
    assert {json.loads(m["payload"])["event_id"] for m in messages} == set(stored)


def test_a_notify_wakes_an_idle_relay_long_before_its_polling_interval(world: RelayWorld) -> None:
    polling_only = RelayOptions(poll_interval_s=30.0, heartbeat_interval_s=20.0, lease_s=60.0)
    restock(world.system, skus=1)
    with Running(relay_for(world, polling_only)):
        wait_until_published(world.settings)
        restock(world.system, skus=1)
        wait_until_published(world.settings, timeout_s=5.0)


def test_lag_counts_the_stored_events_not_yet_published(world: RelayWorld) -> None:
    restock(world.system, skus=3)
    relay = relay_for(world)
    assert relay.lag() == 6
    with Running(relay):
        wait_for(lambda: relay.lag() == 0, "lag zero")
    assert stored_position(world.settings)[0] == stored_events(world.settings)[-1].notification_id
