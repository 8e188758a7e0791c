"""Trace context on every event, and the aggregate base that records it.

The eventsourcing library's events carry no metadata, so the command id that produced an
event, the correlation id of the whole order flow and the id of the message that caused it
are ordinary event attributes, set once here rather than in every aggregate method.
"""

from dataclasses import asdict, dataclass
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic


@dataclass(frozen=True)
class Trace:
    command_id: str
    correlation_id: str
    causation_id: str


class TracedAggregate(Aggregate):
    """Base aggregate whose events all carry a `Trace` and an explicit, versioned topic."""

    class Event(Aggregate.Event):
        command_id: str
        correlation_id: str
        causation_id: str

    class Created(Event, Aggregate.Created):
        pass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Events are stored under their explicit TOPIC ("StockReserved.v1"), not their
        # module path, so code can move without migrating stored events. Registering the
        # topics here lets a fresh process resolve them before it writes anything.
        for value in list(vars(cls).values()):
            if isinstance(value, type) and "TOPIC" in vars(value):
                register_topic(vars(value)["TOPIC"], value)

    @classmethod
    def _start(cls, event_class: type[Any], aggregate_id: UUID, trace: Trace, **fields: Any) -> Self:
        return cls._create(event_class, id=aggregate_id, **fields, **asdict(trace))

    def _record(self, event_class: type[Any], trace: Trace, **fields: Any) -> None:
        self.trigger_event(event_class, **fields, **asdict(trace))
