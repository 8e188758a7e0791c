"""Trace context on every event, and the aggregate base that records it.

The eventsourcing library's events carry no metadata, so the command id that produced an
event, the correlation id of the whole order flow and the id of the message that caused it
are ordinary event attributes, set once here rather than in every aggregate method.
"""

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic


@dataclass(frozen=True)
class Trace:
    command_id: str
    correlation_id: str
    causation_id: str


class TracedAggregate(Aggregate):
    """Base aggregate whose events all carry a `Trace` and an explicit, versioned topic.

    `natural_key` names an attribute (e.g. "order_id" for a payment, "sku" for stock) that
    every event of the aggregate repeats, so a consumer of any single event knows which order
    or SKU it is about: ids like the payment's are uuid5 hashes and cannot be reversed.
    """

    natural_key: ClassVar[str] = ""

    class Event(Aggregate.Event):
        command_id: str
        correlation_id: str
        causation_id: str

    class Created(Event, Aggregate.Created):
        pass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Events are stored under their explicit TOPIC ("StockReserved.v1"), not their
        # module path, so code can move without migrating stored events. The library
        # re-creates nested event classes (they then inherit TOPIC rather than define it),
        # so register the final classes here: a fresh process must resolve a topic before
        # it has written anything. Two events sharing a topic fail here, by name.
        for value in list(vars(cls).values()):
            topic = getattr(value, "TOPIC", None) if isinstance(value, type) else None
            if topic:
                register_topic(topic, value)

    @classmethod
    def _start(cls, event_class: type[Any], aggregate_id: UUID, trace: Trace, **fields: Any) -> Self:
        return cls._create(event_class, id=aggregate_id, **fields, **asdict(trace))

    def _record(self, event_class: type[Any], trace: Trace, **fields: Any) -> None:
        if self.natural_key:
            fields[self.natural_key] = getattr(self, self.natural_key)
        self.trigger_event(event_class, **fields, **asdict(trace))
