"""A projection for tests: it records the order in which it applied events, and can be told
to fail on chosen events (a poison whose cause the test can later fix)."""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg import Cursor

from infrastructure.contracts import IntegrationEvent, Payload
from projections.projection import Handler, Projection, Table

APPLIED = Table(
    "recorded_events",
    "CREATE TABLE IF NOT EXISTS recorded_events ("
    " seq bigserial PRIMARY KEY, aggregate_id uuid NOT NULL, version integer NOT NULL,"
    " event_type text NOT NULL)",
)


class PoisonError(Exception):
    pass


class RecordingProjection(Projection):
    name = "recording"
    contexts = ("inventory",)
    tables = (APPLIED,)

    def __init__(self) -> None:
        self.failing: set[str] = set()  # event ids whose apply raises

    def handlers(self) -> Mapping[type[Payload], Handler]:
        return {}

    def apply(self, cursor: Cursor[Any], event: IntegrationEvent) -> None:
        cursor.execute(
            "INSERT INTO recorded_events (aggregate_id, version, event_type) VALUES (%s, %s, %s)",
            (event.aggregate_id, event.aggregate_version, event.event_type),
        )
        if event.event_id in self.failing:  # after a write: the savepoint must undo it
            raise PoisonError(f"cannot apply {event.event_id}")


def recorded(cursor: Cursor[Any], aggregate_id: UUID) -> list[int]:
    """The versions of the aggregate in the order they were applied."""
    cursor.execute(
        "SELECT version FROM recorded_events WHERE aggregate_id = %s ORDER BY seq", (aggregate_id,)
    )
    return [version for (version,) in cursor.fetchall()]
