"""Where the HTTP API claims each Idempotency-Key and keeps the response it answered
(the port is `services/api/store.py`).

One row per scope (tenant, method, route, key). Claiming is one statement: an INSERT whose
ON CONFLICT branch takes the row over only if it expired, or if its claim's lease lapsed and
the claimant's fingerprint is the row's (a retry of the crashed request; another body stays
refused), so of any number of concurrent requests exactly one gets the row, and none waits
for another's request to finish. The row names the HTTP request that claimed it last
(`request_id`, the id in its log lines and the correlation id of its events). The row is not
the durable record of the command (the command log is, see docs/adr/0003-api-idempotency.md),
so it lives in autocommit statements of its own. A statement waits for a pooled connection at
most `CONNECTION_WAIT_S`: while the database is away, the request is answered (503) rather
than held for the pool's 30 s.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from infrastructure.database import pool_with_tables
from infrastructure.settings import Settings

Scope = tuple[str, str, str, str]  # tenant, method, route, key
Response = tuple[int, tuple[tuple[str, str], ...], bytes]  # status, headers, body

DDL = (
    "CREATE TABLE IF NOT EXISTS {table} ("
    " tenant text NOT NULL, method text NOT NULL, route text NOT NULL, key text NOT NULL,"
    " fingerprint text NOT NULL,"
    " token text NOT NULL,"  # which request holds the claim
    " lease_until timestamptz NOT NULL,"
    " expires_at timestamptz NOT NULL,"
    " status smallint, headers jsonb, body bytea,"  # the response; NULL while in flight
    " request_id text NOT NULL DEFAULT '',"
    " PRIMARY KEY (tenant, method, route, key))",
    # a table made before request ids were kept
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS request_id text NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS {index} ON {table} (expires_at)",
)
SCOPE = "tenant = %s AND method = %s AND route = %s AND key = %s"
CLAIM = (
    "INSERT INTO {table} AS held"
    " (tenant, method, route, key, fingerprint, token, lease_until, expires_at, request_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, now() + %s, now() + %s, %s)"
    " ON CONFLICT (tenant, method, route, key) DO UPDATE SET fingerprint = excluded.fingerprint,"
    " token = excluded.token, lease_until = excluded.lease_until, expires_at = excluded.expires_at,"
    " request_id = excluded.request_id, status = NULL, headers = NULL, body = NULL"
    " WHERE held.expires_at <= now()"
    " OR (held.status IS NULL AND held.lease_until <= now() AND held.fingerprint = excluded.fingerprint)"
    " RETURNING token"
)
HOLDER = "SELECT fingerprint, status, headers, body FROM {table} WHERE " + SCOPE
COMPLETE = "UPDATE {table} SET status = %s, headers = %s, body = %s WHERE " + SCOPE
RELEASE = "DELETE FROM {table} WHERE " + SCOPE
MINE = " AND token = %s AND status IS NULL"
REAP = "DELETE FROM {table} WHERE expires_at <= now()"
CONNECTION_WAIT_S = 2.0  # a statement takes a millisecond: a longer wait is not for load


@dataclass(frozen=True)
class Held:
    fingerprint: str
    response: Response | None


class PostgresIdempotencyStore:
    def __init__(self, settings: Settings, max_connections: int = 10) -> None:
        schema = [settings.postgres_schema] if settings.postgres_schema else []
        self._names = {
            "table": sql.Identifier(*schema, "api_idempotency"),
            "index": sql.Identifier("api_idempotency_expires_at"),
        }
        self._pool = pool_with_tables(settings, [self._sql(statement) for statement in DDL], max_connections)

    def claim(
        self,
        scope: Scope,
        fingerprint: str,
        token: str,
        lease: timedelta,
        ttl: timedelta,
        request_id: str = "",
    ) -> Held | None:
        while True:  # a holder deleted between the two statements lets the next claim through
            if self._run(CLAIM, (*scope, fingerprint, token, lease, ttl, request_id)):
                return None
            rows = self._run(HOLDER, scope)
            if rows:
                fingerprint_held, status, headers, body = rows[0]
                response = None if status is None else (status, _pairs(headers), bytes(body))
                return Held(fingerprint_held, response)

    def complete(self, scope: Scope, token: str, response: Response) -> None:
        status, headers, body = response
        self._run(COMPLETE + MINE, (status, Jsonb(headers), body, *scope, token))

    def release(self, scope: Scope, token: str) -> None:
        self._run(RELEASE + MINE, (*scope, token))

    def reap(self) -> int:
        with self._pool.connection(CONNECTION_WAIT_S) as conn:
            return conn.execute(self._sql(REAP)).rowcount

    def close(self) -> None:
        self._pool.close()

    def _run(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._pool.connection(CONNECTION_WAIT_S) as conn:
            cursor = conn.execute(self._sql(statement), params)
            return cursor.fetchall() if cursor.description else []

    def _sql(self, statement: str) -> sql.Composed:
        return sql.SQL(statement).format(**self._names)


class InMemoryIdempotencyStore:
    """The same contract in one process, for unit tests and `orders api` without a database.
    Its time is the host's wall clock, or `clock` (a test that jumps it: failure scenario
    S15, docs/FAILURE-MODES.md); the PostgreSQL store reads the server's `now()` instead,
    so no API host's clock enters. It keeps no request ids: they are for an operator's SQL,
    and this process's log has them."""

    @dataclass
    class _Row:
        fingerprint: str
        token: str
        lease_until: datetime
        expires_at: datetime
        response: Response | None = None

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._rows: dict[Scope, InMemoryIdempotencyStore._Row] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def claim(
        self,
        scope: Scope,
        fingerprint: str,
        token: str,
        lease: timedelta,
        ttl: timedelta,
        request_id: str = "",
    ) -> Held | None:
        now = self._clock()
        with self._lock:
            row = self._rows.get(scope)
            retried = row is not None and row.fingerprint == fingerprint
            if (
                row is None
                or row.expires_at <= now
                or (retried and row.response is None and row.lease_until <= now)
            ):
                self._rows[scope] = self._Row(fingerprint, token, now + lease, now + ttl)
                return None
            return Held(row.fingerprint, row.response)

    def complete(self, scope: Scope, token: str, response: Response) -> None:
        with self._lock:
            row = self._rows.get(scope)
            if row is not None and row.token == token and row.response is None:
                row.response = response

    def release(self, scope: Scope, token: str) -> None:
        with self._lock:
            row = self._rows.get(scope)
            if row is not None and row.token == token and row.response is None:
                del self._rows[scope]

    def reap(self) -> int:
        now = self._clock()
        with self._lock:
            expired = [scope for scope, row in self._rows.items() if row.expires_at <= now]
            for scope in expired:
                del self._rows[scope]
        return len(expired)

    def close(self) -> None:
        """Nothing to release; here so that either store can be closed the same way."""


def _pairs(headers: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in headers)
