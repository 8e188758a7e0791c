"""What a projection is: a name, the contexts it reads, the tables it owns, and `apply`.

Everything a projection does not have to think about is done around `apply`: the runner
calls it at most once per (aggregate id, version), in version order per aggregate, inside
the transaction that also records that the version was applied, and inside a savepoint so
that an `apply` that raises leaves no trace. `apply` therefore only says how one event
changes the tables. Where several aggregates feed one row (an order's summary is fed by the
order, its payment and its shipment), their changes must commute: each writes its own
columns, adds deltas, or merges into an ordered set, so that the interleaving of topics on
the way in cannot change the result.
"""

from abc import ABC
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from psycopg import Cursor

from infrastructure.contracts import IntegrationEvent, Payload

Handler = Callable[[Cursor[Any], IntegrationEvent, Any], None]


@dataclass(frozen=True)
class Table:
    """A read-model table. It holds only what the events say (no "applied at" columns),
    so a checksum over all of its rows compares two builds of it."""

    name: str
    ddl: str  # CREATE TABLE IF NOT EXISTS <name> (...), unqualified: the schema is the search_path


class Projection(ABC):
    name: ClassVar[str]
    contexts: ClassVar[tuple[str, ...]]
    tables: ClassVar[tuple[Table, ...]]

    def handlers(self) -> Mapping[type[Payload], Handler]:
        """Payload class -> how it changes the tables. Event types a projection does not
        list still advance its per-aggregate version: they change nothing it shows."""
        raise NotImplementedError

    def apply(self, cursor: Cursor[Any], event: IntegrationEvent) -> None:
        """Validate the event's data against its schema, then apply it. Raises on an event
        that cannot be applied; the caller dead-letters it."""
        payload = event.payload()
        handler = self.handlers().get(type(payload))
        if handler is not None:
            handler(cursor, event, payload)
