"""Per-test isolation on the session's PostgreSQL and broker, and waiting on a condition."""

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from infrastructure.devstack import free_port
from infrastructure.devstack.keys import generated
from infrastructure.settings import Settings

T = TypeVar("T")


@contextmanager
def isolated_settings(
    database_url: str, kafka_bootstrap_servers: str | None = None, **overrides: Any
) -> Iterator[Settings]:
    """Settings with a schema, a topic prefix and random API keys and webhook secret of their
    own (made as the dev stack's are); the schema is dropped after."""
    settings = Settings.from_env(generated()).replace(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        postgres_schema=f"t_{uuid.uuid4().hex[:12]}",
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        **overrides,
    )
    try:
        yield settings
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.postgres_schema))
            )


def environment(settings: Settings) -> dict[str, str]:
    """The environment variables that `Settings.from_env` turns back into `settings`, for
    driving the command line in-process or in a subprocess."""
    return {
        "DATABASE_URL": settings.database_url or "",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "ORDERS_POSTGRES_SCHEMA": settings.postgres_schema,
        "ORDERS_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "ORDERS_KAFKA_MAX_POLL_INTERVAL_MS": str(settings.kafka_max_poll_interval_ms),
        "ORDERS_API_PORT": str(settings.api_port),
        "ORDERS_PSP_PORT": str(settings.psp_port),
        "ORDERS_CARRIER_PORT": str(settings.carrier_port),
        "ORDERS_API_KEYS": ",".join(f"{tenant}:{key}" for tenant, key in settings.api_keys),
        "ORDERS_PSP_WEBHOOK_SECRET": settings.psp_webhook_secret,
        "ORDERS_GATEWAY_TIMEOUT_S": str(settings.gateway_timeout_s),
        "ORDERS_CIPHER_KEY": settings.cipher_key or "",
    }


def on_free_ports(settings: Settings) -> Settings:
    """`settings` with the API and the simulators on ports nothing listens on now, so that a
    system a test runs meets no other on the default ports."""
    ports: list[int] = []
    while len(ports) < 3:
        ports.append(free_port(avoid=ports))
    api, psp, carrier = ports
    return settings.replace(api_port=api, psp_port=psp, carrier_port=carrier)


def wait_until(
    condition: Callable[[], T | None], what: str, timeout_s: float = 30.0, every_s: float = 0.1
) -> T:
    """Poll `condition` until it returns something other than None, and return that; fail
    naming `what` once `timeout_s` have passed."""
    deadline = time.monotonic() + timeout_s
    while (result := condition()) is None:
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}"
        time.sleep(every_s)
    return result
