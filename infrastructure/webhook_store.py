"""Where the HTTP API records the provider's webhooks, once per event id (the port is
`services/api/webhook_store.py`).

One row per event in `psp_webhooks`, keyed by the event id. Recording is a single
INSERT ... ON CONFLICT DO NOTHING: the copy that inserts the row is the first, and every other
copy, concurrent or until the row is purged, finds the key taken and changes nothing. Nothing
else is written with the row, so it commits alone, in an autocommit statement. `purge` deletes
the rows received longer than the retry horizon ago, when the provider has long stopped
sending copies (real providers give up after days: three for Stripe), and the API's signature
check refuses a replay long before.
"""

import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from infrastructure.database import pool_with_tables
from infrastructure.settings import Settings

# event id, type, idempotency key, reference, order id, payload
Webhook = tuple[str, str, str, str, str, Mapping[str, Any]]
RETRY_HORIZON = timedelta(days=3)

DDL = """CREATE TABLE IF NOT EXISTS {table} (
    event_id text PRIMARY KEY,
    type text NOT NULL,
    idempotency_key text NOT NULL,
    reference text NOT NULL,
    order_id text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL)"""
# The purge finds the expired rows by it instead of reading the whole table.
RECEIVED_INDEX = "CREATE INDEX IF NOT EXISTS psp_webhooks_received_at ON {table} (received_at)"
RECORD = """INSERT INTO {table} (event_id, type, idempotency_key, reference, order_id, payload)
    VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"""
PURGE = "DELETE FROM {table} WHERE received_at < now() - %s"


class PostgresWebhookStore:
    def __init__(
        self, settings: Settings, max_connections: int = 4, retry_horizon: timedelta = RETRY_HORIZON
    ) -> None:
        schema = [settings.postgres_schema] if settings.postgres_schema else []
        self.retry_horizon = retry_horizon
        self._table = sql.Identifier(*schema, "psp_webhooks")
        ddl = [sql.SQL(statement).format(table=self._table) for statement in (DDL, RECEIVED_INDEX)]
        self._pool = pool_with_tables(settings, ddl, max_connections)

    def record(self, webhook: Webhook) -> bool:
        *columns, payload = webhook
        with self._pool.connection() as conn:
            inserted = conn.execute(sql.SQL(RECORD).format(table=self._table), (*columns, Jsonb(payload)))
            return inserted.fetchone() is not None

    def purge(self) -> int:
        with self._pool.connection() as conn:
            return conn.execute(sql.SQL(PURGE).format(table=self._table), (self.retry_horizon,)).rowcount

    def close(self) -> None:
        self._pool.close()


class InMemoryWebhookStore:
    """The same contract in one process, for unit tests and `orders api` without a database;
    `clock` tells unix time."""

    def __init__(
        self, retry_horizon: timedelta = RETRY_HORIZON, clock: Callable[[], float] = time.time
    ) -> None:
        self.retry_horizon = retry_horizon
        self.recorded: dict[str, Webhook] = {}  # by event id
        self.received_at: dict[str, float] = {}  # by event id
        self._clock = clock
        self._lock = threading.Lock()

    def record(self, webhook: Webhook) -> bool:
        with self._lock:
            if webhook[0] in self.recorded:
                return False
            self.recorded[webhook[0]] = webhook
            self.received_at[webhook[0]] = self._clock()
            return True

    def purge(self) -> int:
        with self._lock:
            cutoff = self._clock() - self.retry_horizon.total_seconds()
            expired = [event for event, at in self.received_at.items() if at < cutoff]
            for event in expired:
                del self.recorded[event], self.received_at[event]
            return len(expired)

    def close(self) -> None:
        """Nothing to release; here so that either store can be closed the same way."""
