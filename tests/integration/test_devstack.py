"""The embedded dev stack: one stack per directory, real servers, survives a crashed broker.

Every stack lives in its own short /tmp directory and is torn down by the fixture that made
it, which stops only the pids that stack recorded.
"""

import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from infrastructure.devstack import DevStack
from infrastructure.devstack.keys import generated, keys_of

pytestmark = pytest.mark.integration
KEY_VARIABLES = set(generated())


def short_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ds", dir="/tmp"))


def running_stack() -> Iterator[DevStack]:
    stack = DevStack(short_dir())
    try:
        stack.up()
        yield stack
    finally:
        stack.down(purge=True)


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[DevStack]:
    yield from running_stack()


@pytest.fixture
def own_stack() -> Iterator[DevStack]:
    yield from running_stack()


@pytest.fixture
def empty_root() -> Iterator[Path]:
    root = short_dir()
    yield root
    DevStack(root).down(purge=True)


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def has_exited(pid: int) -> bool:
    """A zombie has exited too: only its parent's bookkeeping is left."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def round_trip(bootstrap_servers: str) -> None:
    """Produce one message to a new topic and read it back."""
    topic, payload = f"devstack-{uuid.uuid4().hex}", uuid.uuid4().bytes
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    producer.send(topic, payload).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    received = next(iter(consumer)).value
    consumer.close()
    assert received == payload


def select_one(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT 1").fetchone()
    assert row is not None
    return int(row[0])


def test_up_twice_gives_one_stack(shared_stack: DevStack) -> None:
    first, second = shared_stack.up(), shared_stack.up()

    assert second.already_running
    assert (second.postgres_pid, second.broker_pid) == (first.postgres_pid, first.broker_pid)
    assert second.database_url == first.database_url
    assert second.kafka_bootstrap_servers == first.kafka_bootstrap_servers


def test_both_servers_serve_clients(shared_stack: DevStack) -> None:
    info = shared_stack.up()

    assert select_one(info.database_url) == 1
    round_trip(info.kafka_bootstrap_servers)


def test_status_reports_both_servers_running(shared_stack: DevStack) -> None:
    info = shared_stack.up()
    status = shared_stack.status()

    assert status.running
    assert {(c.name, c.state, c.pid) for c in status.components} == {
        ("postgres", "running", info.postgres_pid),
        ("broker", "running", info.broker_pid),
    }


def test_env_file_exports_the_urls_up_returned_and_the_stacks_keys(shared_stack: DevStack) -> None:
    info = shared_stack.up()
    lines = info.env_file.read_text().splitlines()

    exported = dict(line.removeprefix("export ").split("=", 1) for line in lines)

    assert exported == {
        "DATABASE_URL": info.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": info.kafka_bootstrap_servers,
        **keys_of(shared_stack.root),
    }
    assert exported == shared_stack.exported()
    assert stat.S_IMODE(info.env_file.stat().st_mode) == 0o600


def test_exported_variables_join_the_env_file_once_each_for_a_shell_to_source(
    shared_stack: DevStack,
) -> None:
    info = shared_stack.up()
    shared_stack.export({"ORDERS_API_URL": "http://127.0.0.1:1", "ORDERS_PSP_URL": "http://127.0.0.1:2"})
    shared_stack.export({"ORDERS_API_URL": "http://127.0.0.1:3"})

    names = [
        line.removeprefix("export ").partition("=")[0] for line in info.env_file.read_text().splitlines()
    ]
    sourced = subprocess.run(
        ["bash", "-c", f'source "{info.env_file}" && env'], env={}, capture_output=True, text=True, check=True
    )

    assert sorted(names) == sorted(
        ["DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "ORDERS_API_URL", "ORDERS_PSP_URL", *KEY_VARIABLES]
    )
    assert {
        "DATABASE_URL=" + info.database_url,
        "ORDERS_API_URL=http://127.0.0.1:3",
        "ORDERS_PSP_URL=http://127.0.0.1:2",
    } <= set(sourced.stdout.splitlines())


def test_concurrent_ups_start_one_stack(empty_root: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        infos = list(pool.map(lambda _: DevStack(empty_root).up(), range(2)))

    assert sorted(info.already_running for info in infos) == [False, True]
    assert infos[0].postgres_pid == infos[1].postgres_pid
    assert infos[0].broker_pid == infos[1].broker_pid


def test_postgres_keeps_committed_rows_through_an_immediate_restart(shared_stack: DevStack) -> None:
    table = f"t_{uuid.uuid4().hex}"
    url = shared_stack.up().database_url
    with psycopg.connect(url) as connection:
        connection.execute(f"CREATE TABLE {table} AS SELECT 42 AS answer")

    shared_stack.postgres.restart(mode="immediate")

    with psycopg.connect(url) as connection:
        assert connection.execute(f"SELECT answer FROM {table}").fetchone() == (42,)
    assert shared_stack.status().running


def test_a_paused_broker_serves_again_after_resume(shared_stack: DevStack) -> None:
    broker = shared_stack.broker
    broker.pause()
    try:
        eventually(lambda: psutil.Process(broker.pid).status() == psutil.STATUS_STOPPED)
    finally:
        broker.resume()

    round_trip(broker.bootstrap_servers)


def test_up_replaces_a_killed_broker_and_keeps_postgres(own_stack: DevStack) -> None:
    before = own_stack.up()
    os.kill(before.broker_pid, signal.SIGKILL)
    eventually(lambda: has_exited(before.broker_pid))

    broker = next(c for c in own_stack.status().components if c.name == "broker")
    assert (broker.state, broker.pid) == ("stale", before.broker_pid)

    after = own_stack.up()
    assert not after.already_running
    assert after.broker_pid != before.broker_pid
    assert after.postgres_pid == before.postgres_pid
    assert own_stack.status().running
    round_trip(after.kafka_bootstrap_servers)


def test_down_twice_stops_every_server_once(own_stack: DevStack) -> None:
    info = own_stack.up()

    assert own_stack.down() is True
    assert own_stack.down() is False
    eventually(lambda: has_exited(info.postgres_pid) and has_exited(info.broker_pid))
    assert not own_stack.status().running
    assert not info.env_file.exists()


def test_cli_runs_the_stack_from_the_current_directory() -> None:
    workdir = short_dir()

    def orders(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "services.cli", "dev", *arguments]
        return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)

    try:
        assert orders("up").returncode == 0
        again = orders("up")
        assert (again.returncode, "already running" in again.stdout) == (0, True)
        status = orders("status")
        assert (status.returncode, "dev stack is running" in status.stdout) == (0, True)
        assert [orders("down").returncode, orders("down").returncode] == [0, 0]
    finally:
        DevStack(workdir / ".devstack").down(purge=True)
        workdir.rmdir()


def test_cli_reports_a_postgres_that_cannot_start_in_one_line() -> None:
    stack = DevStack(short_dir())
    stack.up()
    stack.down()
    with (stack.root / "postgres" / "postgresql.conf").open("a") as config:
        config.write("no_such_setting = 1\n")

    command = [sys.executable, "-m", "services.cli", "dev", "--root", str(stack.root), "up"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        stack.down(purge=True)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "PostgreSQL" in result.stderr
    assert re.search(r"\(see /\S+/postgres\.log\)$", result.stderr)  # the server's own log


def test_cli_up_writes_random_keys_of_its_own_kept_across_down_and_up(shared_stack: DevStack) -> None:
    workdir = short_dir()

    def orders(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "services.cli", "dev", *arguments]
        return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)

    def keys(env_file: Path) -> dict[str, str]:
        """The key variables of an env file, as a shell that sources it gets them."""
        sourced = subprocess.run(
            ["bash", "-c", f'source "{env_file}" && env'], env={}, capture_output=True, text=True, check=True
        )
        variables = dict(line.split("=", 1) for line in sourced.stdout.splitlines() if "=" in line)
        return {name: value for name, value in variables.items() if name in KEY_VARIABLES}

    try:
        assert orders("up").returncode == 0
        first = keys(workdir / ".devstack" / "env")
        assert [orders("down").returncode, orders("up").returncode] == [0, 0]
        again = keys(workdir / ".devstack" / "env")
    finally:
        DevStack(workdir / ".devstack").down(purge=True)
        workdir.rmdir()

    assert set(first) == KEY_VARIABLES and all(first.values())
    assert again == first
    assert set(first.values()).isdisjoint(keys(shared_stack.env_file).values())
