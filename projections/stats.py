"""Counters per projection, written in the transaction that did the counted work.

They are how an operator (and failure scenario S6) sees which path ran: a redelivered batch
shows up as `duplicates_skipped`, a missing version as `parked`, a poison event as
`dead_lettered`. Being transactional, they never count work that was rolled back.
"""

from dataclasses import astuple, dataclass, fields
from typing import Any

from psycopg import Connection, Cursor

DDL = (
    "CREATE TABLE IF NOT EXISTS projection_stats ("
    " projection text PRIMARY KEY, applied bigint NOT NULL DEFAULT 0,"
    " duplicates_skipped bigint NOT NULL DEFAULT 0, parked bigint NOT NULL DEFAULT 0,"
    " dead_lettered bigint NOT NULL DEFAULT 0)",
)
TABLES = ("projection_stats",)


@dataclass
class Counts:
    applied: int = 0
    duplicates_skipped: int = 0
    parked: int = 0
    dead_lettered: int = 0

    def add(self, other: "Counts") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def total(self) -> int:
        return sum(astuple(self))

    def __str__(self) -> str:
        return ", ".join(
            f"{field.name.replace('_', ' ')} {getattr(self, field.name)}" for field in fields(self)
        )


def record(cursor: Cursor[Any], projection: str, counts: Counts) -> None:
    if not counts.total:
        return
    cursor.execute(
        "INSERT INTO projection_stats AS s"
        " (projection, applied, duplicates_skipped, parked, dead_lettered) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (projection) DO UPDATE SET applied = s.applied + EXCLUDED.applied,"
        " duplicates_skipped = s.duplicates_skipped + EXCLUDED.duplicates_skipped,"
        " parked = s.parked + EXCLUDED.parked, dead_lettered = s.dead_lettered + EXCLUDED.dead_lettered",
        (projection, *astuple(counts)),
    )


def read(connection: Connection[Any], projection: str) -> Counts:
    row = connection.execute(
        "SELECT applied, duplicates_skipped, parked, dead_lettered FROM projection_stats"
        " WHERE projection = %s",
        (projection,),
    ).fetchone()
    return Counts(*row) if row else Counts()
