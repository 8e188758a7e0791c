"""How far each aggregate is applied, per projection, and the events parked until it is ready.

`projection_versions` is the deduplication record: the last applied version of each
aggregate. It is written in the same transaction as the read-model change, so the two
cannot disagree, whatever crashes and whatever Kafka redelivers.
`projection_parked` holds events that arrived too early (a version is missing before them)
or behind a dead letter, with their original bytes and Kafka position, until they are next.
"""

from typing import Any
from uuid import UUID

from psycopg import Cursor

from projections.incoming import Incoming

DDL = (
    "CREATE TABLE IF NOT EXISTS projection_versions ("
    " projection text NOT NULL, aggregate_id uuid NOT NULL, version integer NOT NULL,"
    " PRIMARY KEY (projection, aggregate_id))",
    "CREATE TABLE IF NOT EXISTS projection_parked ("
    " projection text NOT NULL, aggregate_id uuid NOT NULL, version integer NOT NULL,"
    " reason text NOT NULL, value bytea NOT NULL, key bytea,"
    ' topic text, partition integer, "offset" bigint,'
    " parked_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (projection, aggregate_id, version))",
)
TABLES = ("projection_versions", "projection_parked")


def last_applied(cursor: Cursor[Any], projection: str, aggregate_id: UUID) -> int:
    """The aggregate's last applied version (0 if none), row-locked for this transaction."""
    cursor.execute(
        "SELECT version FROM projection_versions WHERE projection = %s AND aggregate_id = %s FOR UPDATE",
        (projection, aggregate_id),
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def advance(cursor: Cursor[Any], projection: str, aggregate_id: UUID, version: int) -> None:
    cursor.execute(
        "INSERT INTO projection_versions (projection, aggregate_id, version) VALUES (%s, %s, %s)"
        " ON CONFLICT (projection, aggregate_id) DO UPDATE SET version = EXCLUDED.version",
        (projection, aggregate_id, version),
    )


def park(
    cursor: Cursor[Any], projection: str, aggregate_id: UUID, version: int, reason: str, record: Incoming
) -> bool:
    """Hold the record back; False if it is already parked (a redelivery)."""
    cursor.execute(
        "INSERT INTO projection_parked"
        ' (projection, aggregate_id, version, reason, value, key, topic, partition, "offset")'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (projection, aggregate_id, version, reason, record.value, record.key, *record.location),
    )
    return cursor.rowcount == 1


def unpark_next(cursor: Cursor[Any], projection: str, aggregate_id: UUID, last: int) -> Incoming | None:
    """Take the parked record that follows `last`, if it is there; parked copies of versions
    already applied are dropped on the way."""
    cursor.execute(
        "DELETE FROM projection_parked WHERE projection = %s AND aggregate_id = %s AND version <= %s",
        (projection, aggregate_id, last),
    )
    cursor.execute(
        "DELETE FROM projection_parked WHERE projection = %s AND aggregate_id = %s AND version = %s"
        ' RETURNING value, key, topic, partition, "offset"',
        (projection, aggregate_id, last + 1),
    )
    row = cursor.fetchone()
    return Incoming(*row) if row else None


def waiting(cursor: Cursor[Any], projection: str, aggregate_id: UUID) -> list[int]:
    """Versions of the aggregate still parked, in order."""
    cursor.execute(
        "SELECT version FROM projection_parked WHERE projection = %s AND aggregate_id = %s ORDER BY version",
        (projection, aggregate_id),
    )
    return [int(version) for (version,) in cursor.fetchall()]


def parked_by_aggregate(cursor: Cursor[Any], projection: str) -> list[tuple[UUID, int, list[int]]]:
    """(aggregate id, last applied version, parked versions) of every aggregate with parked
    events: the gaps and dead letters an operator has to look at."""
    cursor.execute(
        "SELECT p.aggregate_id, coalesce(v.version, 0), array_agg(p.version ORDER BY p.version)"
        " FROM projection_parked p LEFT JOIN projection_versions v"
        " ON v.projection = p.projection AND v.aggregate_id = p.aggregate_id"
        " WHERE p.projection = %s GROUP BY p.aggregate_id, v.version ORDER BY p.aggregate_id",
        (projection,),
    )
    return [(aggregate_id, int(last), list(versions)) for aggregate_id, last, versions in cursor.fetchall()]
