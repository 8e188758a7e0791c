"""Dead letters: events a projection could not decode or apply, kept with their bytes.

An open dead letter holds back every later event of its aggregate (they are parked), so
the read model never shows an aggregate's later state without its earlier one; events of
other aggregates carry on. An operator resolves it with `orders dlq retry` (apply it again,
once its cause is fixed) or `orders dlq discard` (skip it); either releases the parked ones.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import class_row

from projections.incoming import Identity, Incoming

OPEN, RETRIED, DISCARDED = "open", "retried", "discarded"
DDL = (
    "CREATE TABLE IF NOT EXISTS projection_dead_letters ("
    " id bigserial PRIMARY KEY, projection text NOT NULL, aggregate_id uuid, version integer,"
    ' topic text, partition integer, "offset" bigint, error text NOT NULL,'
    " value bytea NOT NULL, key bytea,"
    f" status text NOT NULL DEFAULT '{OPEN}' CHECK (status IN ('{OPEN}', '{RETRIED}', '{DISCARDED}')),"
    " dead_lettered_at timestamptz NOT NULL DEFAULT now(), resolved_at timestamptz)",
    # One dead letter per event; one per Kafka record for records too broken to identify.
    "CREATE UNIQUE INDEX IF NOT EXISTS projection_dead_letters_event"
    " ON projection_dead_letters (projection, aggregate_id, version) WHERE version IS NOT NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS projection_dead_letters_record"
    ' ON projection_dead_letters (projection, topic, partition, "offset") WHERE version IS NULL',
)
TABLES = ("projection_dead_letters",)
MAX_ERROR_LENGTH = 2_000
_COLUMNS = (
    'id, projection, aggregate_id, version, topic, partition, "offset", error, value, key, status,'
    " dead_lettered_at, resolved_at"
)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    projection: str
    aggregate_id: UUID | None
    version: int | None
    topic: str | None
    partition: int | None
    offset: int | None
    error: str
    value: bytes
    key: bytes | None
    status: str
    dead_lettered_at: datetime
    resolved_at: datetime | None

    @property
    def record(self) -> Incoming:
        return Incoming(self.value, self.key, self.topic, self.partition, self.offset)


def describe(error: BaseException) -> str:
    """The error as text PostgreSQL stores: a message may quote the record, and a record may
    hold a NUL or half a surrogate pair, which no text column takes; both are escaped."""
    text = f"{type(error).__name__}: {error}".replace("\x00", "\\x00")
    return text.encode(errors="backslashreplace").decode()[:MAX_ERROR_LENGTH]


def add(cursor: Cursor[Any], projection: str, who: Identity, record: Incoming, error: str) -> bool:
    """Record a dead letter; False if this event (or record) is a dead letter already."""
    cursor.execute(
        "INSERT INTO projection_dead_letters"
        ' (projection, aggregate_id, version, topic, partition, "offset", error, value, key)'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (projection, who.aggregate_id, who.version, *record.location, error, record.value, record.key),
    )
    return cursor.rowcount == 1


def open_versions(cursor: Cursor[Any], projection: str, aggregate_id: UUID) -> set[int | None]:
    cursor.execute(
        "SELECT version FROM projection_dead_letters"
        f" WHERE projection = %s AND aggregate_id = %s AND status = '{OPEN}'",
        (projection, aggregate_id),
    )
    return {version for (version,) in cursor.fetchall()}


def find(cursor: Cursor[Any], letter_id: int, *, lock: bool = False) -> DeadLetter | None:
    with cursor.connection.cursor(row_factory=class_row(DeadLetter)) as rows:
        lock_clause = " FOR UPDATE" if lock else ""
        rows.execute(
            f"SELECT {_COLUMNS} FROM projection_dead_letters WHERE id = %s{lock_clause}", (letter_id,)
        )
        return rows.fetchone()


def listed(cursor: Cursor[Any], projection: str | None, include_resolved: bool) -> list[DeadLetter]:
    """Dead letters oldest first, optionally of one projection, by default only open ones."""
    with cursor.connection.cursor(row_factory=class_row(DeadLetter)) as rows:
        rows.execute(
            f"SELECT {_COLUMNS} FROM projection_dead_letters"
            f" WHERE (%s::text IS NULL OR projection = %s) AND (%s OR status = '{OPEN}') ORDER BY id",
            (projection, projection, include_resolved),
        )
        return rows.fetchall()


def resolve(cursor: Cursor[Any], letter_id: int, status: str) -> None:
    cursor.execute(
        "UPDATE projection_dead_letters SET status = %s, resolved_at = now() WHERE id = %s",
        (status, letter_id),
    )


def still_failing(cursor: Cursor[Any], letter_id: int, error: str) -> None:
    cursor.execute("UPDATE projection_dead_letters SET error = %s WHERE id = %s", (error, letter_id))
