"""Settings: the one module that reads the environment.

Without DATABASE_URL the applications keep everything in memory (unit tests, quick
experiments). With it, every context writes to that PostgreSQL server, each in its own
tables. `orders dev up` writes both variables to `.devstack/env`.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

MEMORY_FACTORY = "infrastructure.command_log:MemoryCommandFactory"
POSTGRES_FACTORY = "infrastructure.command_log:PostgresCommandFactory"
# The API keys when ORDERS_API_KEYS is unset: for development only (`orders api` says so).
DEV_API_KEYS = (("acme", "dev-key-acme"), ("globex", "dev-key-globex"))
# The secret that signs the provider's webhooks when ORDERS_PSP_WEBHOOK_SECRET is unset: for
# development only (`orders api` says so).
DEV_PSP_WEBHOOK_SECRET = "dev-psp-webhook-secret"
_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_API_KEY = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # an RFC 6750 bearer token
_HTTP_URL = re.compile(r"https?://[^\s/?#]+[^\s?#]*")  # a host, and perhaps a path


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
    # Partitions of every `<context>.events` topic, created before anyone produces or
    # subscribes: 4 is what the local broker gives a topic it creates on its own, so a topic
    # a client re-creates by accident after a broker restart gets the same key -> partition map.
    kafka_partitions: int = 4
    # How long the saga's consumer lets the broker hold a fetch that finds nothing new. A
    # broker that answers a waiting fetch as soon as records arrive (Apache Kafka) makes this
    # a matter of idle cost only; the local one answers only when the wait is over, so every
    # hop of an order waited half of it: 500 ms, kafka-python's default, made a hop 250 ms.
    kafka_fetch_wait_ms: int = 50
    # The HTTP API: its port, its (tenant, key) pairs, and how long an Idempotency-Key is
    # kept and how long a claim on one outlives a request that crashed.
    api_port: int = 8000
    api_keys: tuple[tuple[str, str], ...] = DEV_API_KEYS
    idempotency_ttl_s: int = 86_400
    idempotency_lease_s: int = 30
    # The simulated payment provider and carrier: where they listen, where the provider
    # sends its webhooks (none when unset) and the secret that signs them (the API checks
    # it), and how their clients time out and retry.
    psp_port: int = 8001
    psp_webhook_url: str | None = None
    psp_webhook_secret: str = DEV_PSP_WEBHOOK_SECRET
    carrier_port: int = 8002
    # Where the provider, the carrier and the API are reached over HTTP: `orders run` sets
    # them for its processes and writes them to .devstack/env. With no provider or carrier
    # URL, the saga calls the provider's ledger and a carrier in its own process instead.
    psp_url: str | None = None
    carrier_url: str | None = None
    api_url: str | None = None
    gateway_timeout_s: float = 5.0
    gateway_backoff_s: float = 0.2
    gateway_backoff_max_s: float = 2.0
    # How long an order has from its placement to ship before the saga fails it.
    saga_complete_within_s: float = 120.0

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
            kafka_partitions=_int(environ, "ORDERS_KAFKA_PARTITIONS", 4),
            kafka_fetch_wait_ms=_int(environ, "ORDERS_KAFKA_FETCH_WAIT_MS", 50),
            api_port=_int(environ, "ORDERS_API_PORT", 8000),
            api_keys=_api_keys(environ.get("ORDERS_API_KEYS", "")),
            idempotency_ttl_s=_int(environ, "ORDERS_IDEMPOTENCY_TTL_S", 86_400),
            idempotency_lease_s=_int(environ, "ORDERS_IDEMPOTENCY_LEASE_S", 30),
            psp_port=_int(environ, "ORDERS_PSP_PORT", 8001),
            psp_webhook_url=environ.get("ORDERS_PSP_WEBHOOK_URL") or None,
            psp_webhook_secret=environ.get("ORDERS_PSP_WEBHOOK_SECRET") or DEV_PSP_WEBHOOK_SECRET,
            carrier_port=_int(environ, "ORDERS_CARRIER_PORT", 8002),
            psp_url=_url(environ, "ORDERS_PSP_URL"),
            carrier_url=_url(environ, "ORDERS_CARRIER_URL"),
            api_url=_url(environ, "ORDERS_API_URL"),
            gateway_timeout_s=_float(environ, "ORDERS_GATEWAY_TIMEOUT_S", 5.0),
            gateway_backoff_s=_float(environ, "ORDERS_GATEWAY_BACKOFF_S", 0.2),
            gateway_backoff_max_s=_float(environ, "ORDERS_GATEWAY_BACKOFF_MAX_S", 2.0),
            saga_complete_within_s=_float(environ, "ORDERS_SAGA_COMPLETE_WITHIN_S", 120.0),
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
            # One connection kept per context and process; more opened while busy.
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "10",
            # No round trip to test each connection taken from the pool (it was a fifth of the
            # saga's database time): a connection that died with the server fails its first
            # statement instead, and the recorders retry that on a fresh one.
            "POSTGRES_PRE_PING": "n",
            # With 2+ writers a tailing reader lost events in this mode; the
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


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name} must be positive, got {text}")
    return value


def _url(environ: Mapping[str, str], name: str) -> str | None:
    text = environ.get(name)
    if not text:
        return None
    if not _HTTP_URL.fullmatch(text):
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def _api_keys(text: str) -> tuple[tuple[str, str], ...]:
    """ORDERS_API_KEYS: comma-separated tenant:key pairs; unset means DEV_API_KEYS. A bad pair
    is named by its position, so that the error does not print a key."""
    if not text.strip():
        return DEV_API_KEYS
    pairs = []
    for position, item in enumerate(text.split(","), start=1):
        tenant, _, key = item.strip().partition(":")
        if not _TENANT.fullmatch(tenant) or not _API_KEY.fullmatch(key):
            raise SettingsError(
                f"ORDERS_API_KEYS must be comma-separated tenant:key pairs (tenant: a-z, 0-9, _ or -;"
                f" key: a bearer token); pair {position} is not"
            )
        pairs.append((tenant, key))
    if len({key for _, key in pairs}) != len(pairs):
        raise SettingsError("ORDERS_API_KEYS names one key twice; each key belongs to one tenant")
    return tuple(pairs)
