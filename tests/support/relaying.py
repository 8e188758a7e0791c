"""What the relay tests share: the inventory context in an isolated schema, events to
publish, the relay in a thread or a process, and reads of what reached the stores (SQL, and
a plain Kafka consumer). Assertions read the stores, never the relay's own counters."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from domain.inventory import RestockSku
from infrastructure.relay import Relay, RelayOptions, advisory_key
from infrastructure.settings import Settings
from services.bootstrap import System, build
from support.isolation import environment, isolated_settings

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = "inventory"
# Quick for tests: a standby retries often; the lease still exceeds the ack timeout.
FAST = RelayOptions(poll_interval_s=0.2, standby_retry_s=0.1, heartbeat_interval_s=1.0, lease_s=30.0)


@dataclass(frozen=True)
class RelayWorld:
    settings: Settings
    system: System


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    aggregate_id: str
    notification_id: int


@contextmanager
def relay_world(database_url: str, kafka_bootstrap_servers: str, **settings: Any) -> Iterator[RelayWorld]:
    """The four contexts in a schema and under a topic prefix of their own; `settings`
    overrides fields of the Settings (Kafka timeouts, a dedicated broker)."""
    with isolated_settings(database_url, kafka_bootstrap_servers) as isolated:
        isolated = isolated.replace(**settings)
        system = build(isolated)
        try:
            yield RelayWorld(isolated, system)
        finally:
            system.close()


def restock(system: System, skus: int, rounds: int = 1) -> None:
    """Events on `skus` aggregates; a new SKU gets two (registered, restocked), then one per round."""
    for _ in range(rounds):
        for sku in range(skus):
            command = RestockSku(command_id=f"restock-{uuid.uuid4().hex}", sku=f"SKU-{sku}", quantity=1)
            system.inventory.execute(command)


def relay_for(world: RelayWorld, options: RelayOptions = FAST) -> Relay:
    app = world.system.inventory
    return Relay(app.recorder, app.mapper.to_domain_event, CONTEXT, world.settings, options)


class Running:
    """A relay running in a thread; stopped (and joined) on the way out or by `stop()`."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=relay.run, args=(self._stop,), name="relay-under-test")

    def __enter__(self) -> Relay:
        self._thread.start()
        return self.relay

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the relay did not stop"


@contextmanager
def relay_process(settings: Settings, log_file: Path, **environ: str) -> Iterator[subprocess.Popen[bytes]]:
    """`orders relay --context inventory` as a child process, with `environ` added (such as
    ORDERS_CRASH_POINTS); killed on the way out if it still runs, even if it was paused."""
    env = {
        **os.environ,
        **environment(settings),
        "ORDERS_KAFKA_REQUEST_TIMEOUT_MS": str(settings.kafka_request_timeout_ms),
        "ORDERS_KAFKA_DELIVERY_TIMEOUT_MS": str(settings.kafka_delivery_timeout_ms),
        **environ,
    }
    command = [sys.executable, "-m", "services.cli", "relay", "--context", CONTEXT, "--report-every", "60"]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait(timeout=30)


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    """Poll until `condition()` is truthy; fail naming `what` once `timeout_s` have passed."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.02)


def wait_until_published(settings: Settings, timeout_s: float = 15.0) -> None:
    """Until the stored relay position reaches the last stored event."""
    last = stored_events(settings)[-1].notification_id
    wait_for(lambda: stored_position(settings)[0] == last, f"relay position {last}", timeout_s)


def stored_events(settings: Settings) -> list[StoredEvent]:
    query = f"SELECT originator_id, originator_version, notification_id FROM {CONTEXT}_events"
    rows = _query(settings, query + " ORDER BY notification_id")
    return [StoredEvent(f"{aggregate}:{version}", str(aggregate), n) for aggregate, version, n in rows]


def stored_position(settings: Settings) -> tuple[int, int]:
    """(position, epoch) of the context's row in relay_positions; (0, 0) before any relay ran."""
    if _query(settings, "SELECT to_regclass('relay_positions')")[0][0] is None:
        return (0, 0)
    rows = _query(settings, f"SELECT position, epoch FROM relay_positions WHERE context = '{CONTEXT}'")
    return (rows[0][0], rows[0][1]) if rows else (0, 0)


def lock_holders(settings: Settings) -> list[int]:
    """Backend pids holding the context's relay lock, as pg_locks shows them."""
    key = advisory_key(settings.postgres_schema, CONTEXT)
    query = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    return [
        pid for (pid,) in _query(settings, f"{query} AND ((classid::bigint << 32) | objid::bigint) = {key}")
    ]


def read_topic(settings: Settings) -> list[ConsumerRecord]:
    """Every record on the context's topic, read by a plain consumer without a group."""
    topic = settings.topic(CONTEXT)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            records += [r for batch in consumer.poll(timeout_ms=500).values() for r in batch]
        return records
    finally:
        consumer.close()


def event_ids(records: list[ConsumerRecord]) -> list[str]:
    return [dict(record.headers)["event_id"].decode() for record in records]


def _query(settings: Settings, query: str) -> list[tuple[Any, ...]]:
    assert settings.database_url
    with psycopg.connect(settings.database_url, options=f"-c search_path={settings.postgres_schema}") as conn:
        return conn.execute(query).fetchall()  # type: ignore[call-overload]
