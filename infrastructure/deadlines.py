"""Where the saga's deadlines outlive its process, and which scheduler may fire them.

`saga_deadlines` holds one row per (order, kind): scheduling again is `ON CONFLICT DO
NOTHING`, so a redelivered OrderPlaced cannot move a deadline. `fired_at` is set once the
deadline has had its effect; a fired deadline is never due again. Firing twice anyway (a
crash before `mark_fired`, a paused leader) is harmless: the command it issues has an id
derived from the deadline, so the command log answers the second one.

Exactly one scheduler fires at a time: the holder of a lock (`infrastructure/leadership.py`).
A crashed or disconnected leader loses it (with its session, or when its Redis lease runs
out) and a standby takes over at its next try. A leader that lost the lock without knowing
cannot mark a deadline fired once its successor has taken the lock: the mark is fenced by the
lock's `Fence`, and refused with FencedOutError.
"""

import threading
from datetime import datetime
from typing import Any

import psycopg

from domain.ports import Deadline, Fence, FencedOutError
from infrastructure.database import DDL_LOCK_KEY, connect, ensure_schema
from infrastructure.leadership import CREATE_FENCES, fenced
from infrastructure.settings import Settings

DDL = (
    "CREATE TABLE IF NOT EXISTS saga_deadlines ("
    " order_id uuid NOT NULL,"
    " kind text NOT NULL,"
    " due_at timestamptz NOT NULL,"
    " correlation_id text NOT NULL DEFAULT '',"
    " fired_at timestamptz,"
    " PRIMARY KEY (order_id, kind))",
    "CREATE INDEX IF NOT EXISTS saga_deadlines_unfired ON saga_deadlines (due_at) WHERE fired_at IS NULL",
    CREATE_FENCES,
)
SCHEDULE = (
    "INSERT INTO saga_deadlines (order_id, kind, due_at, correlation_id) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (order_id, kind) DO NOTHING"
)
DUE = (
    "SELECT order_id, kind, due_at, correlation_id FROM saga_deadlines"
    " WHERE fired_at IS NULL AND due_at <= %s ORDER BY due_at LIMIT %s"
)
MARK_FIRED = "UPDATE saga_deadlines SET fired_at = %s WHERE order_id = %s AND kind = %s AND fired_at IS NULL"


class PostgresDeadlineStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        ensure_schema(settings)
        with connect(settings) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))  # concurrent DDL fails
            for statement in DDL:
                conn.execute(statement)

    def schedule(self, deadline: Deadline) -> None:
        params = (deadline.order_id, deadline.kind, deadline.due_at, deadline.correlation_id)
        self._execute(SCHEDULE, params)

    def due(self, now: datetime, limit: int) -> list[Deadline]:
        return [Deadline(*row) for row in self._execute(DUE, (now, limit))]

    def mark_fired(self, deadline: Deadline, at: datetime, fence: Fence | None = None) -> None:
        params = (at, deadline.order_id, deadline.kind)
        if fence is None:
            self._execute(MARK_FIRED, params)
            return
        with self._lock:
            conn = self._connection()
            with fenced(conn, fence):
                conn.execute(MARK_FIRED, params)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    def _execute(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            cursor = self._connection().execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def _connection(self) -> psycopg.Connection[Any]:
        """One autocommit connection, opened again if it was lost (the caller retries)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.settings, autocommit=True)
        return self._conn


class InMemoryDeadlineStore:
    """The same contract in memory, for unit tests and the in-process pump."""

    def __init__(self) -> None:
        self._deadlines: dict[tuple[Any, str], Deadline] = {}
        self._fired: dict[tuple[Any, str], datetime] = {}
        self._fences: dict[str, int] = {}  # lock name -> the highest token a mark passed with
        self._lock = threading.Lock()

    def schedule(self, deadline: Deadline) -> None:
        with self._lock:
            self._deadlines.setdefault((deadline.order_id, deadline.kind), deadline)

    def due(self, now: datetime, limit: int) -> list[Deadline]:
        with self._lock:
            due = [d for key, d in self._deadlines.items() if key not in self._fired and d.due_at <= now]
        return sorted(due, key=lambda d: d.due_at)[:limit]

    def mark_fired(self, deadline: Deadline, at: datetime, fence: Fence | None = None) -> None:
        with self._lock:
            if fence is not None:
                if fence.token < self._fences.get(fence.name, 0):
                    raise FencedOutError(f"the {fence.name} lock was taken again since token {fence.token}")
                self._fences[fence.name] = fence.token
            self._fired.setdefault((deadline.order_id, deadline.kind), at)

    def fired_at(self, deadline: Deadline) -> datetime | None:
        """When the deadline was marked fired, if it was (for tests)."""
        with self._lock:
            return self._fired.get((deadline.order_id, deadline.kind))
