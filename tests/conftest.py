"""Backing services for integration tests, started once per session and only when requested.

Each service comes from the environment when set (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS),
from testcontainers when ORDERS_TEST_BACKEND=testcontainers (needs Docker), and otherwise
from the embedded dev stack, one component per fixture, so PostgreSQL-only tests never start
a broker.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.devstack import EmbeddedPostgres, LocalBroker, free_port
from infrastructure.settings import Settings

GIVEN = Settings.from_env()
USE_TESTCONTAINERS = os.environ.get("ORDERS_TEST_BACKEND") == "testcontainers"


@pytest.fixture(scope="session")
def embedded_dir() -> Iterator[Path]:
    """Where embedded servers keep data, pid files and logs for this session."""
    path = Path(tempfile.mkdtemp(prefix="ds", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(embedded_dir: Path) -> Iterator[str]:
    if GIVEN.database_url:
        yield GIVEN.database_url
    elif USE_TESTCONTAINERS:
        yield from _postgres_container()
    else:
        yield from _embedded_postgres(embedded_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(embedded_dir: Path) -> Iterator[str]:
    if GIVEN.kafka_bootstrap_servers:
        yield GIVEN.kafka_bootstrap_servers
    elif USE_TESTCONTAINERS:
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
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        yield container.get_connection_url()


def _kafka_container() -> Iterator[str]:
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer() as container:
        yield container.get_bootstrap_server()
