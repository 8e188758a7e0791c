"""Every attempt at a call, as its HTTP client made it: `call_attempts`, one row per request.

The call table (`<context>_calls`) keeps one row per call, and how often it was claimed. This
keeps what each request under the call's idempotency key met (the timeout before the answer,
the 503, the refused connection), so that `orders trace` can show them under the key. The
gateway process writes it: one autocommit INSERT per attempt, taking no lock and reading
nothing. An attempt's number is its place among its key's rows (`recorded_attempts`), not a
column: numbering as it writes would make two requests racing under one key (a lease run
out) contend for a number. A write that fails loses the record, never the call: it is logged
and the call goes on.

The calls are kept for good; the record of their attempts only while someone may still ask
why one took long, for `RETENTION`. The gateway process deletes older rows itself, at most
once every `PURGE_EVERY_S`, from whichever thread's attempt finds the purge due: no job to
schedule, and the DELETE finds the rows by their `started_at` index.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg import sql

from infrastructure.database import pool_with_tables
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

TABLE = "call_attempts"
RETENTION = timedelta(days=7)
PURGE_EVERY_S = 3600.0
CONNECTION_WAIT_S = 2.0  # with the database away, an attempt waits this long, then goes unrecorded

DDL = (
    "CREATE TABLE IF NOT EXISTS {table} ("
    " id bigserial PRIMARY KEY, call_id text NOT NULL, operation text NOT NULL,"
    " started_at timestamptz NOT NULL, elapsed_ms integer NOT NULL, outcome text NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_call_id ON {{table}} (call_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_started_at ON {{table}} (started_at)",
)
RECORD = (
    "INSERT INTO {table} (call_id, operation, started_at, elapsed_ms, outcome) VALUES (%s, %s, %s, %s, %s)"
)
PURGE = "DELETE FROM {table} WHERE started_at < now() - %s"
SELECT = (
    "SELECT call_id, operation, started_at, elapsed_ms, outcome,"
    " row_number() OVER (PARTITION BY call_id ORDER BY id) FROM {table}"
    " WHERE call_id = ANY(%s) ORDER BY call_id, id"
)


@dataclass(frozen=True)
class Attempt:
    """One request under a call's idempotency key, as its client saw it."""

    call_id: str  # the idempotency key
    operation: str  # the call's: authorize, capture, book...
    started_at: datetime
    elapsed_ms: int
    outcome: str  # "ok 200", "http 503", "timeout", "connection refused"...
    number: int = 0  # which request under its key it was (1: the first), as recorded


class AttemptLog(Protocol):
    def record(self, attempt: Attempt) -> None:
        """Keep `attempt`, or log why not: never raises, since the call matters more."""
        ...


class PostgresAttemptLog:
    def __init__(
        self,
        settings: Settings,
        retention: timedelta = RETENTION,
        purge_every_s: float = PURGE_EVERY_S,
        max_connections: int = 4,
    ) -> None:
        self.retention = retention
        self._purge_every_s = purge_every_s
        self._next_purge = 0.0  # time.monotonic(): the first attempt recorded purges
        self._purging = threading.Lock()
        self._table = _table(settings.postgres_schema)
        ddl = [sql.SQL(statement).format(table=self._table) for statement in DDL]
        self._pool = pool_with_tables(settings, ddl, max_connections)

    def record(self, attempt: Attempt) -> None:
        params = (attempt.call_id, attempt.operation, attempt.started_at, attempt.elapsed_ms, attempt.outcome)
        try:
            with self._pool.connection(timeout=CONNECTION_WAIT_S) as conn:
                conn.execute(sql.SQL(RECORD).format(table=self._table), params)
            if self._purge_due():
                self.purge()
        except psycopg.Error as error:
            log.warning("attempt at %s (%s) not recorded: %s", attempt.call_id, attempt.outcome, error)

    def purge(self) -> int:
        """Delete the attempts older than the retention; returns how many."""
        with self._pool.connection(timeout=CONNECTION_WAIT_S) as conn:
            return conn.execute(sql.SQL(PURGE).format(table=self._table), (self.retention,)).rowcount

    def close(self) -> None:
        self._pool.close()

    def _purge_due(self) -> bool:
        with self._purging:
            now = time.monotonic()
            if now < self._next_purge:
                return False
            self._next_purge = now + self._purge_every_s
            return True


def recorded_attempts(conn: psycopg.Connection[Any], call_ids: list[str]) -> list[Attempt]:
    """The attempts recorded at these calls, each call's in the order they were made, on a
    connection whose search path is the system's schema (`infrastructure.database.connect`);
    none where no gateway has recorded any yet."""
    if conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone() == (None,):
        return []
    rows = conn.execute(sql.SQL(SELECT).format(table=sql.Identifier(TABLE)), (call_ids,)).fetchall()
    return [Attempt(*row) for row in rows]


def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(*([schema] if schema else []), TABLE)
