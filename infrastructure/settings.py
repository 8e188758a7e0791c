"""Settings: the one module that reads the environment.

Without DATABASE_URL the applications keep everything in memory (unit tests, quick
experiments). With it, every context writes to that PostgreSQL server, each in its own
tables. `orders dev up` writes both variables to `.devstack/env`.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

MEMORY_FACTORY = "infrastructure.command_log:MemoryCommandFactory"
POSTGRES_FACTORY = "infrastructure.command_log:PostgresCommandFactory"


class SettingsError(ValueError):
    """A setting is present but unusable; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    postgres_schema: str = ""
    devstack_dir: Path = field(default_factory=lambda: Path(".devstack"))
    kafka_topic_prefix: str = ""
    kafka_max_poll_interval_ms: int = 5_000
    kafka_request_timeout_ms: int = 5_000
    kafka_delivery_timeout_ms: int = 10_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            database_url=environ.get("DATABASE_URL") or None,
            kafka_bootstrap_servers=environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            postgres_schema=environ.get("ORDERS_POSTGRES_SCHEMA", ""),
            devstack_dir=Path(environ.get("ORDERS_DEVSTACK_DIR", ".devstack")),
            kafka_topic_prefix=environ.get("ORDERS_KAFKA_TOPIC_PREFIX", ""),
            kafka_max_poll_interval_ms=_int(environ, "ORDERS_KAFKA_MAX_POLL_INTERVAL_MS", 5_000),
            kafka_request_timeout_ms=_int(environ, "ORDERS_KAFKA_REQUEST_TIMEOUT_MS", 5_000),
            kafka_delivery_timeout_ms=_int(environ, "ORDERS_KAFKA_DELIVERY_TIMEOUT_MS", 10_000),
        )

    def topic(self, context: str) -> str:
        """Where a context publishes: `<prefix><context>.events` (tests use a prefix each)."""
        return f"{self.kafka_topic_prefix}{context}.events"

    def consumer_group(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"

    def persistence_env(self) -> dict[str, str]:
        """The eventsourcing library's configuration for one application."""
        if self.database_url is None:
            return {"PERSISTENCE_MODULE": MEMORY_FACTORY}
        try:
            params = conninfo_to_dict(self.database_url)
        except Exception as error:
            raise SettingsError(f"DATABASE_URL is not a PostgreSQL URL: {error}") from None
        return {
            "PERSISTENCE_MODULE": POSTGRES_FACTORY,
            "POSTGRES_DBNAME": str(params.get("dbname") or params.get("user") or "postgres"),
            "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
            "POSTGRES_PORT": str(params.get("port") or "5432"),
            "POSTGRES_USER": str(params.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(params.get("password") or ""),
            "POSTGRES_SCHEMA": self.postgres_schema,
            # Waiting forever for the table lock is the library default; a stuck writer
            # should fail and be retried instead.
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_PRE_PING": "y",
            # With 2+ writers a tailing reader lost events in this mode (DESIGN.md); the
            # command log also relies on the library's default insert path.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {text!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value
