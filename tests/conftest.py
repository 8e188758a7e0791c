"""Backing services for integration tests, started once per session and only when requested.

Where each server comes from is decided once per session by `support.backends.choose_backend`:
the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS) when set, else containers started with
testcontainers when a Docker engine answers, else the embedded dev stack; ORDERS_TEST_BACKEND
(external, containers or embedded) forces one. Each server has its own fixture, so
PostgreSQL-only tests never start a broker.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.backends import KAFKA_IMAGE, POSTGRES_IMAGE, Backend, Source, choose_backend, docker_reachable
from support.logs import restored

from infrastructure.devstack import EmbeddedPostgres, LocalBroker, free_port
from infrastructure.settings import Settings

GIVEN = Settings.from_env()


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A command run in process (`main(["reconcile"])`) configures the process's logging onto
    the stderr pytest captures for that test and closes afterwards: put it back."""
    with restored():
        yield


@pytest.fixture(scope="session")
def backend() -> Backend:
    """Where this session's servers come from (support/backends.py)."""
    return choose_backend(os.environ, docker_reachable)


@pytest.fixture(scope="session")
def embedded_dir() -> Iterator[Path]:
    """Where embedded servers keep data, pid files and logs for this session."""
    path = Path(tempfile.mkdtemp(prefix="ds", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(backend: Backend, embedded_dir: Path) -> Iterator[str]:
    if backend.postgres is Source.EXTERNAL:
        assert GIVEN.database_url, "choose_backend picks external only with DATABASE_URL set"
        yield GIVEN.database_url
    elif backend.postgres is Source.CONTAINERS:
        yield from _postgres_container()
    else:
        yield from _embedded_postgres(embedded_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(backend: Backend, embedded_dir: Path) -> Iterator[str]:
    if backend.kafka is Source.EXTERNAL:
        assert GIVEN.kafka_bootstrap_servers, "choose_backend picks external only with the variable set"
        yield GIVEN.kafka_bootstrap_servers
    elif backend.kafka is Source.CONTAINERS:
        yield from _kafka_container()
    else:
        yield from _embedded_broker(embedded_dir)


@pytest.fixture(scope="session")
def stack_env(database_url: str, kafka_bootstrap_servers: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers}


def _embedded_postgres(directory: Path) -> Iterator[str]:
    postgres = EmbeddedPostgres(directory / "postgres", free_port())
    postgres.init()
    postgres.start()
    try:
        yield postgres.url
    finally:
        postgres.discard()


def _embedded_broker(directory: Path) -> Iterator[str]:
    broker = LocalBroker(directory, free_port())
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def _postgres_container() -> Iterator[str]:
    """PostgreSQL 15 in Docker, with as many connections as the embedded server allows (every
    process of a whole-system test keeps a pool per context)."""
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(POSTGRES_IMAGE, driver=None).with_command("postgres -c max_connections=400")
    with container:
        yield container.get_connection_url()


def _kafka_container() -> Iterator[str]:
    """One Kafka node in KRaft mode in Docker, advertised on a port of this machine."""
    from testcontainers.community.kafka import KafkaContainer

    container = KafkaContainer(KAFKA_IMAGE).with_kraft()
    container.start(timeout=120)
    try:
        yield container.get_bootstrap_server()
    finally:
        container.stop()
