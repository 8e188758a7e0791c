"""How the simulators honour an `Idempotency-Key`, the way real providers do.

The first request under a key decides its answer: its row is inserted with a fingerprint
of the request, and every later request under that key is answered from the row (the same
reference, the same tracking id), never by doing the work again. A later request with a
different body is a client bug and is refused (HTTP 422). A row may also be told to lose
its next answers: the work is committed, only the reply never reaches the client.
"""

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import sql

from infrastructure.database import DDL_LOCK_KEY, connect
from infrastructure.settings import Settings

T = TypeVar("T")


class KeyReusedError(Exception):
    """The idempotency key was first used for a different request."""


@dataclass(frozen=True)
class Answered(Generic[T]):
    done: T  # what was done under the key, the first time
    replayed: bool  # answered from the row, not done now
    lose_answer: bool  # done, but the reply must not reach the client


@dataclass(frozen=True)
class KeyedTable(Generic[T]):
    """A table with one row per `idempotency_key` (plus `fingerprint` and `answers_to_lose`
    columns), whose `columns` read back as `make(*values)`."""

    schema: str
    name: str
    columns: Sequence[str]
    make: Callable[..., T]

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def insert(self, conn: psycopg.Connection[Any], statement: str, params: Mapping[str, Any]) -> bool:
        """Run an INSERT ... ON CONFLICT DO NOTHING RETURNING (`{table}` filled in); True if it
        inserted the row."""
        return conn.execute(sql.SQL(statement).format(table=self.table), params).fetchone() is not None

    def answer(
        self, conn: psycopg.Connection[Any], key: str, fingerprint: str, inserted: bool
    ) -> Answered[T] | None:
        """The key's answer (None if it has no row), in the transaction that just tried to insert it."""
        select = sql.SQL(
            "SELECT {}, fingerprint, answers_to_lose FROM {} WHERE idempotency_key = %s FOR UPDATE"
        )
        columns = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        row = conn.execute(select.format(columns, self.table), (key,)).fetchone()
        if row is None:
            return None
        *values, first_fingerprint, losing = row
        if first_fingerprint != fingerprint:
            raise KeyReusedError(f"idempotency key {key!r} was first used for a different request")
        if losing > 0:
            lose = sql.SQL("UPDATE {} SET answers_to_lose = answers_to_lose - 1 WHERE idempotency_key = %s")
            conn.execute(lose.format(self.table), (key,))
        return Answered(self.make(*values), replayed=not inserted, lose_answer=losing > 0)

    def all(self, conn: psycopg.Connection[Any], where: str = "true", *params: Any) -> list[T]:
        """Rows matching `where`, oldest first."""
        select = sql.SQL("SELECT {} FROM {} WHERE " + where + " ORDER BY recorded_at, idempotency_key")
        columns = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        return [self.make(*row) for row in conn.execute(select.format(columns, self.table), params)]


def fingerprint(request: Mapping[str, object]) -> str:
    """sha256 of the canonical JSON of what was asked."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def create_tables(settings: Settings, schema: str, statements: Sequence[str]) -> None:
    """Create `schema` and run `statements` ({schema} is filled in), one process at a time."""
    with connect(settings, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for statement in statements:
            conn.execute(sql.SQL(statement).format(schema=sql.Identifier(schema)))
