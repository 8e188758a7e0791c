"""Settings: the one module that reads the environment, and that checks all of it at once.

Without DATABASE_URL the applications keep everything in memory (unit tests, quick
experiments). With it, every context writes to that PostgreSQL server, each in its own
tables. `orders dev up` writes both variables, and the dev stack's keys, to `.devstack/env`.

Each setting has its default and its check in one place, its field below; its variable is
`ORDERS_<FIELD>` (DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS aside), and an empty variable is
an unset one. `Settings.from_env` reads them with pydantic-settings and turns whatever is
unusable into one SettingsError naming every such variable, so a process stops at its start
rather than at the first use of a bad value. The constructor reads no environment: a test
or a composition root gets exactly the settings it passes.
"""

import base64
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from psycopg.conninfo import conninfo_to_dict
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from redis import ConnectionPool

from infrastructure import contracts

MEMORY_FACTORY = "infrastructure.command_log:MemoryCommandFactory"
CIPHER_TOPIC = "eventsourcing.cipher:AESCipher"
POSTGRES_FACTORY = "infrastructure.command_log:PostgresCommandFactory"
PREFIX = "ORDERS_"
_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_PROCESS = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # a process's name, as `orders run` names its children
_API_KEY = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # an RFC 6750 bearer token
_HTTP_URL = re.compile(r"https?://[^\s/?#]+[^\s?#]*")  # a host, and perhaps a path
# What goes into `-c search_path` unquoted: PostgreSQL's plain identifiers, lowercase ASCII.
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RATE = re.compile(r"\s*\d+\s*/\s*(second|minute|hour)\s*")


class SettingsError(ValueError):
    """A setting is missing or unusable; the message names its variable, never a secret."""


def _postgres_url(text: str | None) -> str | None:
    """DATABASE_URL. The message leaves the URL out: it may hold a password."""
    if text is not None:
        try:
            conninfo_to_dict(text)
        except Exception:
            raise ValueError(
                "must be a PostgreSQL URL (postgresql://user:password@host:port/dbname)"
            ) from None
    return text


def _schema(text: str) -> str:
    if text and not _SCHEMA.fullmatch(text):
        raise ValueError(
            "must be a PostgreSQL identifier: lowercase letters, digits and _, not starting with a digit,"
            " at most 63 characters"
        )
    return text


def _redis_url(text: str) -> str:
    """ORDERS_REDIS_URL, read as the lock's client reads it (connecting to nothing). The
    message leaves the URL out: it may hold a password."""
    try:
        ConnectionPool.from_url(text)
    except ValueError:
        raise ValueError(
            "must be a Redis URL (redis://[:password@]host[:port][/db], rediss://... or unix://...)"
        ) from None
    return text


def _http_url(text: str | None) -> str | None:
    if text is not None and not _HTTP_URL.fullmatch(text):
        raise ValueError("must be an http:// or https:// URL")
    return None if text is None else text.rstrip("/")


def _tenant_key_pairs(value: object) -> object:
    """ORDERS_API_KEYS as written: comma-separated tenant:key pairs."""
    if not isinstance(value, str):
        return value
    return (
        tuple(tuple(item.strip().partition(":")[::2]) for item in value.split(",")) if value.strip() else ()
    )


def _name_url_pairs(value: object) -> object:
    """ORDERS_METRICS_URLS as `orders run` writes it: space-separated name=url pairs."""
    if not isinstance(value, str):
        return value
    return tuple(tuple(item.partition("=")[::2]) for item in value.split())


def _metrics_urls(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    for position, (name, url) in enumerate(pairs, start=1):
        if not _PROCESS.fullmatch(name) or not _HTTP_URL.fullmatch(url):
            raise ValueError(
                "must be space-separated name=url pairs (name: a-z, 0-9, _ or -; url: http:// or https://);"
                f" pair {position} is not"
            )
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("names one process twice")
    return pairs


def _api_keys(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """A bad pair is named by its position, so that the message does not print a key."""
    for position, (tenant, key) in enumerate(pairs, start=1):
        if not _TENANT.fullmatch(tenant) or not _API_KEY.fullmatch(key):
            raise ValueError(
                "must be comma-separated tenant:key pairs (tenant: a-z, 0-9, _ or -; key: a bearer token);"
                f" pair {position} is not"
            )
    if len({key for _, key in pairs}) != len(pairs):
        raise ValueError("names one key twice (each key belongs to one tenant)")
    return pairs


def _cipher_key(text: str | None) -> str | None:
    """ORDERS_CIPHER_KEY: checked here, so that a bad key stops the process at start, not at
    its first write. The message never prints the key."""
    if text is None:
        return None
    try:
        size = len(base64.b64decode(text, validate=True))
    except ValueError:
        size = 0
    if size not in (16, 24, 32):
        raise ValueError(
            "must be base64 of 16, 24 or 32 random bytes"
            " (make one: python -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')"
        )
    return text


def _rate(text: str) -> str:
    if not _RATE.fullmatch(text):
        raise ValueError("must be a count per second, minute or hour, such as 100/second")
    return text


Port = Annotated[int, Field(gt=0, lt=65_536)]
Count = Annotated[int, Field(gt=0)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
HttpUrl = Annotated[str | None, AfterValidator(_http_url)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        frozen=True,
        populate_by_name=True,  # the constructor takes field names, the environment variable names
        hide_input_in_errors=True,  # an error must not print a key
    )

    database_url: Annotated[
        str | None, Field(validation_alias="DATABASE_URL"), AfterValidator(_postgres_url)
    ] = None
    kafka_bootstrap_servers: Annotated[str | None, Field(validation_alias="KAFKA_BOOTSTRAP_SERVERS")] = None
    postgres_schema: Annotated[str, AfterValidator(_schema)] = ""
    devstack_dir: Path = Path(".devstack")
    kafka_topic_prefix: str = ""
    kafka_max_poll_interval_ms: Count = 5_000
    kafka_request_timeout_ms: Count = 5_000
    kafka_delivery_timeout_ms: Count = 10_000
    # Partitions of every `<context>.events` topic, created before anyone produces or
    # subscribes: 4 is what the local broker gives a topic it creates on its own, so a topic
    # a client re-creates by accident after a broker restart gets the same key -> partition map.
    kafka_partitions: Count = 4
    # How long the saga's consumer lets the broker hold a fetch that finds nothing new. A
    # broker that answers a waiting fetch as soon as records arrive (Apache Kafka) makes this
    # a matter of idle cost only; the local one answers only when the wait is over, so every
    # hop of an order waited half of it: 500 ms, kafka-python's default, made a hop 250 ms.
    kafka_fetch_wait_ms: Count = 50
    # The HTTP API: its port, its (tenant, key) pairs, how long an Idempotency-Key is kept
    # and how long a claim on one outlives a request that crashed, and how many writes one
    # API key may make (per API process; replays of stored answers are not counted). No key
    # is built in: `orders api` on a database refuses to start without ORDERS_API_KEYS, and
    # only the dev stack, in-memory runs and tests make their own.
    api_port: Port = 8000
    api_keys: Annotated[
        tuple[tuple[str, str], ...], NoDecode, BeforeValidator(_tenant_key_pairs), AfterValidator(_api_keys)
    ] = ()
    idempotency_ttl_s: Count = 86_400
    idempotency_lease_s: Count = 30
    api_write_rate_limit: Annotated[str, AfterValidator(_rate)] = "100/second"
    # The simulated payment provider and carrier: where they listen, where the provider
    # sends its webhooks (none when unset) and the secret that signs them (the API checks
    # it; none when empty, like the keys), and how their clients time out and retry.
    psp_port: Port = 8001
    psp_webhook_url: HttpUrl = None
    psp_webhook_secret: str = ""
    carrier_port: Port = 8002
    # Where the provider, the carrier and the API are reached over HTTP: `orders run` sets
    # them for its processes and writes them to .devstack/env. With no provider or carrier
    # URL, the saga calls the provider's ledger and a carrier in its own process instead.
    psp_url: HttpUrl = None
    carrier_url: HttpUrl = None
    api_url: HttpUrl = None
    gateway_timeout_s: Seconds = 5.0
    gateway_backoff_s: Seconds = 0.2
    gateway_backoff_max_s: Seconds = 2.0
    # Where a process other than the API serves `GET /metrics` (infrastructure/metrics.py; the
    # API serves it on its own port); 0: nowhere. `orders run` gives each child its own, from
    # this one up.
    metrics_port: Annotated[int, Field(ge=0, lt=65_536)] = 9100
    # The other processes' metrics, by name, which the API's live dashboard adds to its own:
    # `name=url` pairs, as `orders run` writes them to .devstack/env.
    metrics_urls: Annotated[
        tuple[tuple[str, str], ...], NoDecode, BeforeValidator(_name_url_pairs), AfterValidator(_metrics_urls)
    ] = ()
    # How long an order has from its placement to ship before the saga fails it.
    saga_complete_within_s: Seconds = 120.0
    # How often `orders run`'s reconciliation child (`orders reconcile --every`) compares the
    # read models, the payments and the shipments with what they should hold, and repairs what
    # it can: each run folds every aggregate and every read model, so not every few seconds.
    reconcile_every_s: Seconds = 300.0
    # The key that encrypts every stored event and snapshot at rest, with the eventsourcing
    # library's own cipher (AES-GCM), and the customers' keys: base64 of 16, 24 or 32 bytes.
    # `orders dev up` makes one for the dev stack. Unset: stored in clear.
    cipher_key: Annotated[str | None, AfterValidator(_cipher_key)] = None
    # Where the locks that elect the one relay per context and the one deadline scheduler are
    # held (infrastructure/leadership.py): PostgreSQL's advisory locks, or Redis at
    # `redis_url`. The fences that refuse a former holder's writes are in PostgreSQL either way.
    lock_backend: Literal["postgres", "redis"] = "postgres"
    redis_url: Annotated[str, AfterValidator(_redis_url)] = "redis://127.0.0.1:6379/0"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the constructor is given: `from_env` names the environment it reads."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        try:
            return cls(**_Environment(cls, environ)())
        except ValidationError as error:
            raise SettingsError("; ".join(_problem(detail) for detail in error.errors())) from None

    def replace(self, **changes: Any) -> "Settings":
        """These settings with `changes`, checked as the constructor checks them."""
        return type(self)(**{**self.model_dump(), **changes})

    def topic(self, context: str) -> str:
        """Where a context publishes: `<prefix><context>.events` (tests use a prefix each)."""
        return f"{self.kafka_topic_prefix}{contracts.topic(context)}"

    def consumer_group(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"

    def persistence_env(self) -> dict[str, str]:
        """The eventsourcing library's configuration for one application."""
        cipher = {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": self.cipher_key} if self.cipher_key else {}
        if self.database_url is None:
            return {"PERSISTENCE_MODULE": MEMORY_FACTORY, **cipher}
        params = conninfo_to_dict(self.database_url)
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
            # How long a statement waits for a pooled connection (the library's default is 30 s,
            # and it retries 10 times): with the server away, a request gets its 503 within
            # about a minute instead of five; under load a connection comes back in ms.
            "POSTGRES_CONNECT_TIMEOUT": "5",
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
            **cipher,
        }


class _Environment(EnvSettingsSource):
    """pydantic-settings' reading of environment variables, from a mapping of them (a test's,
    or a child process's to be) rather than from this process's own."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        names = {
            name if self.case_sensitive else name.lower(): value for name, value in self._environ.items()
        }
        return {name: value for name, value in names.items() if not (self.env_ignore_empty and value == "")}


def _problem(detail: ErrorDetails) -> str:
    """One variable's problem: our own checks say what they expect; pydantic's say what is wrong."""
    name = _variable(str(detail["loc"][0]))
    if detail["type"] == "value_error":
        return f"{name} {detail.get('ctx', {}).get('error')}"
    return f"{name}: {detail['msg'][0].lower()}{detail['msg'][1:]}"


def _variable(name: str) -> str:
    """The environment variable of a field (or of an alias, which is one already)."""
    field = Settings.model_fields.get(name)
    if field is None:
        return name
    return field.validation_alias if isinstance(field.validation_alias, str) else PREFIX + name.upper()
