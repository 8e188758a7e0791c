"""Where the HTTP API records the provider's webhooks, once per event id (the port is
`services/api/webhook_store.py`).

One row per event in `psp_webhooks`, keyed by the event id. Recording is a single
INSERT ... ON CONFLICT DO NOTHING: the copy that inserts the row is the first, and every other
copy, concurrent or years later, finds the key taken and changes nothing. Nothing else is
written with the row, so it commits alone, in an autocommit statement.
"""

import threading
from collections.abc import Mapping
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from infrastructure.database import pool_with_tables
from infrastructure.settings import Settings

# event id, type, idempotency key, reference, order id, payload
Webhook = tuple[str, str, str, str, str, Mapping[str, Any]]

DDL = """CREATE TABLE IF NOT EXISTS {table} (
    event_id text PRIMARY KEY,
    type text NOT NULL,
    idempotency_key text NOT NULL,
    reference text NOT NULL,
    order_id text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL)"""
RECORD = """INSERT INTO {table} (event_id, type, idempotency_key, reference, order_id, payload)
    VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"""


class PostgresWebhookStore:
    def __init__(self, settings: Settings, max_connections: int = 4) -> None:
        schema = [settings.postgres_schema] if settings.postgres_schema else []
        self._table = sql.Identifier(*schema, "psp_webhooks")
        self._pool = pool_with_tables(settings, [sql.SQL(DDL).format(table=self._table)], max_connections)

    def record(self, webhook: Webhook) -> bool:
        *columns, payload = webhook
        with self._pool.connection() as conn:
            inserted = conn.execute(sql.SQL(RECORD).format(table=self._table), (*columns, Jsonb(payload)))
            return inserted.fetchone() is not None

    def close(self) -> None:
        self._pool.close()


class InMemoryWebhookStore:
    """The same contract in one process, for unit tests and `orders api` without a database."""

    def __init__(self) -> None:
        self.recorded: dict[str, Webhook] = {}  # by event id
        self._lock = threading.Lock()

    def record(self, webhook: Webhook) -> bool:
        with self._lock:
            if webhook[0] in self.recorded:
                return False
            self.recorded[webhook[0]] = webhook
            return True

    def close(self) -> None:
        """Nothing to release; here so that either store can be closed the same way."""
