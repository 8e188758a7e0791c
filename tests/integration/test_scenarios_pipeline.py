"""Failure scenarios S7-S10 (docs/FAILURE-MODES.md): faults on the way from the event store
through Kafka to a read model.

The processes under test are real: `orders relay --context inventory` and `orders projector
stock`. So are the faults: a crash point inside the projector's open transaction (S7),
SIGSTOP of a broker the test starts for itself (S8), and the user-space TCP proxy
(`infrastructure/faults/tcp_proxy.py`) cutting the relay off its broker (S9) or the projector
off PostgreSQL (S10). The verdicts read the stores: the relay's position with SQL, the topic
with a plain consumer, the group's committed offsets from the broker, and the read model
against a rebuild from the event store that is rolled back (a dry run), by checksum. The
projection's counters, which commit with its changes, only tell the test when to look.
Each test runs in a schema and under a topic prefix of its own.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from support.isolation import environment, isolated_settings, wait_until
from support.projecting import counts_of
from support.publishing import applications, world
from support.relaying import (
    event_ids,
    read_topic,
    relay_process,
    relay_world,
    restock,
    stored_events,
    stored_position,
    wait_for,
    wait_until_published,
)

from infrastructure.devstack import LocalBroker, free_port
from infrastructure.faults.crash_points import CRASH_EXIT_CODE
from infrastructure.faults.tcp_proxy import TcpProxy
from infrastructure.settings import Settings
from projections import positions, stats, tables
from projections.rebuild import rebuild_from_events
from projections.stats import Counts
from projections.stock import Stock
from services.bootstrap import System

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STOCK = Stock()
# A send fails 1.5 s after the broker went silent, plus the relay's 1 s ack margin.
SHORT_KAFKA_TIMEOUTS = {"kafka_request_timeout_ms": 1000, "kafka_delivery_timeout_ms": 1500}
# A joining projector waits out the rebalance timeout (max_poll_interval_ms) on the local broker.
QUICK_JOINS = {"kafka_max_poll_interval_ms": 2000}
FAILED_SEND = "retrying from position"  # the relay's warning after a batch was not acked
FAILED_BATCH = "records failed; they will be redelivered"  # the consume loop's, after a rollback


@contextmanager
def projector_process(
    settings: Settings, log: Path, crash_points: str = ""
) -> Iterator[subprocess.Popen[bytes]]:
    """`orders projector stock` as a child process, its output in `log`; stopped with Ctrl-C
    on the way out if it still runs, and killed if that does not stop it. Its tables are
    created first, so that the test can read them from the start."""
    tables.ensure(settings, STOCK)
    env = {**os.environ, **environment(settings), "ORDERS_CRASH_POINTS": crash_points}
    command = [sys.executable, "-m", "services.cli", "projector", STOCK.name]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def proxy_to_broker(tmp_path: Path) -> Iterator[TcpProxy]:
    """A proxy in front of a broker of the test's own. The broker advertises the proxy as its
    address, so that every connection of its clients, not just the first, goes through it."""
    port = free_port()
    with TcpProxy("127.0.0.1", port) as proxy:
        broker = LocalBroker(tmp_path, port, advertised_port=proxy.port)
        broker.start()
        try:
            yield proxy
        finally:
            broker.stop()


def mentions(log: Path, text: str) -> int:
    return log.read_text(errors="replace").count(text)


def applied(settings: Settings, records: int, timeout_s: float = 60.0) -> Counts:
    """Wait until the stock projection has applied `records` events, by its transactional
    counters (redelivered copies count as duplicates, not as applied)."""

    def enough() -> Counts | None:
        counts = counts_of(settings, STOCK)
        return counts if counts.applied >= records else None

    return wait_until(enough, f"stock to apply {records} events", timeout_s)


def visible_rows(settings: Settings) -> dict[str, int]:
    """Rows of the stock projection that other transactions see: its tables, its version
    records and its counters."""
    assert settings.database_url
    own = [table.name for table in STOCK.tables]
    bookkeeping = [*positions.TABLES, *stats.TABLES]
    with psycopg.connect(settings.database_url, options=f"-c search_path={settings.postgres_schema}") as conn:
        rows = {
            table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            for table in own
        } | {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE projection = %s").format(sql.Identifier(table)),
                (STOCK.name,),
            ).fetchone()
            for table in bookkeeping
        }
    return {table: row[0] if row else 0 for table, row in rows.items()}


def committed_offsets(settings: Settings) -> dict[int, int]:
    """The stock projector group's committed offset per partition of the inventory topic, as
    the broker answers an OffsetFetch (0 where nothing is committed)."""
    topic = settings.topic("inventory")
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group(f"projection-{STOCK.name}"),
        enable_auto_commit=False,
    )
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        return {p: consumer.committed(TopicPartition(topic, p)) or 0 for p in partitions}
    finally:
        consumer.close()


def committed_up_to(settings: Settings, records: int) -> dict[int, int]:
    """Wait until the group has committed `records` offsets in all (offsets on the local
    broker are dense from 0, so that is every record on the topic)."""

    def reached() -> dict[int, int] | None:
        offsets = committed_offsets(settings)
        return offsets if sum(offsets.values()) >= records else None

    return wait_until(reached, f"the stock group to commit {records} offsets", timeout_s=60)


def assert_all_published(settings: Settings) -> None:
    """I6: every stored event is on the topic (at least once)."""
    published = set(event_ids(read_topic(settings)))
    missing = [e.event_id for e in stored_events(settings) if e.event_id not in published]
    assert not missing, f"I6 violated: stored events not on the topic: {missing}"


def assert_equals_replay(settings: Settings, system: System) -> None:
    """I5: the live read model has the checksum of a fresh fold of the event store."""
    replay = rebuild_from_events(settings, STOCK, applications(system), dry_run=True)
    assert replay.before == replay.checksum, "I5 violated: stock differs from a replay of the event store"


def test_s7_a_projector_killed_mid_batch_leaves_nothing_of_it_and_its_restart_equals_a_replay(
    database_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    with (
        isolated_settings(database_url, kafka_bootstrap_servers, **QUICK_JOINS) as settings,
        world(settings) as w,
    ):
        w.flows.restock("KEEP", 10)
        w.flows.restock("SPARE", 3)
        w.flows.completed(("KEEP", 2), ("SPARE", 1))
        w.flows.cancelled(("KEEP", 1))
        records = len(w.publisher.publish_new("inventory"))

        log = tmp_path / "crashed.log"
        with projector_process(settings, log, crash_points="projector.mid_batch") as crashed:
            assert crashed.wait(timeout=60) == CRASH_EXIT_CODE, log.read_text()
        assert "crash point projector.mid_batch" in log.read_text()
        rows = visible_rows(settings)
        assert rows == dict.fromkeys(rows, 0), "I6 violated: part of the batch is visible"

        with projector_process(settings, tmp_path / "restarted.log"):
            after = applied(settings, records)
            committed_up_to(settings, records)

        # Nothing had been committed, so nothing is a duplicate: every record applied once.
        assert after == Counts(applied=records)
        assert_equals_replay(settings, w.system)


def test_s8_a_paused_broker_holds_the_relay_position_and_the_projector_catches_up_after_resume(
    database_url: str, broker: LocalBroker, tmp_path: Path
) -> None:
    kafka = {**SHORT_KAFKA_TIMEOUTS, **QUICK_JOINS}
    relay_log, projector_log = tmp_path / "relay.log", tmp_path / "projector.log"
    with relay_world(database_url, broker.bootstrap_servers, **kafka) as w:
        restock(w.system, skus=2)
        with relay_process(w.settings, relay_log), projector_process(w.settings, projector_log):
            wait_until_published(w.settings, timeout_s=30)
            applied(w.settings, len(stored_events(w.settings)))
            acked = stored_position(w.settings)

            broker.pause()
            try:
                restock(w.system, skus=4)
                wait_for(
                    lambda: mentions(relay_log, FAILED_SEND) >= 3 or stored_position(w.settings) != acked,
                    "three failed sends",
                    timeout_s=30,
                )
                assert stored_position(w.settings) == acked, (
                    "I6 at risk: the relay moved on after failed sends"
                )
            finally:
                broker.resume()

            wait_until_published(w.settings, timeout_s=60)
            applied(w.settings, len(stored_events(w.settings)))

        assert_all_published(w.settings)
        assert_equals_replay(w.settings, w.system)


def test_s9_a_relay_cut_off_its_broker_past_the_delivery_timeout_reports_it_holds_and_recovers(
    database_url: str, proxy_to_broker: TcpProxy, tmp_path: Path
) -> None:
    proxy, log = proxy_to_broker, tmp_path / "relay.log"
    with relay_world(database_url, f"127.0.0.1:{proxy.port}", **SHORT_KAFKA_TIMEOUTS) as w:
        restock(w.system, skus=2)
        with relay_process(w.settings, log):
            wait_until_published(w.settings)
            acked = stored_position(w.settings)

            proxy.cut()
            try:
                restock(w.system, skus=4)
                wait_for(
                    lambda: mentions(log, FAILED_SEND) >= 2 or stored_position(w.settings) != acked,
                    "two failed sends",
                    timeout_s=30,
                )
                assert stored_position(w.settings) == acked, "I6 at risk: the relay moved on while cut off"
            finally:
                proxy.heal()
            wait_until_published(w.settings, timeout_s=60)

        # Each send failed by the delivery timeout, and the relay said where it holds.
        assert mentions(log, "not acked: KafkaTimeoutError") >= 2, log.read_text()
        assert f"{FAILED_SEND} {acked[0]}" in log.read_text()
        assert_all_published(w.settings)


def test_s10_a_projector_cut_off_postgres_commits_no_offsets_and_catches_up_after_heal(
    database_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    server = conninfo_to_dict(database_url)
    log = tmp_path / "projector.log"
    with (
        isolated_settings(database_url, kafka_bootstrap_servers, **QUICK_JOINS) as settings,
        world(settings) as w,
        TcpProxy(str(server.get("host") or "127.0.0.1"), int(server.get("port") or 5432)) as proxy,
    ):
        through_proxy = make_conninfo(database_url, host="127.0.0.1", port=proxy.port)
        cut_off = settings.replace(database_url=through_proxy)
        w.flows.restock("KEEP", 10)
        w.flows.completed(("KEEP", 2))
        before = len(w.publisher.publish_new("inventory"))
        with projector_process(cut_off, log):
            applied(settings, before)
            held = committed_up_to(settings, before)

            proxy.cut()
            try:
                w.flows.cancelled(("KEEP", 1))
                w.flows.restock("SPARE", 3)
                everything = before + len(w.publisher.publish_new("inventory"))
                wait_for(
                    lambda: mentions(log, FAILED_BATCH) >= 2 or committed_offsets(settings) != held,
                    "two failed batches",
                    timeout_s=30,
                )
                assert committed_offsets(settings) == held, "I6 at risk: offsets committed for a failed batch"
                assert counts_of(settings, STOCK).applied == before
            finally:
                proxy.heal()

            applied(settings, everything)
            committed_up_to(settings, everything)

        assert_equals_replay(settings, w.system)
