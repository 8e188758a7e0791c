"""The published half of a bounded context: its name, its aggregates, the one mapping from
their stored events to integration events, and the topic it publishes to.

Each context declares its `PublishedContext` in its own contract module, next to its
payloads (`infrastructure/contracts/orders.py` declares `PUBLISHED`). Which contexts the
system has is not decided here: that set is declared once, in `services/registry.py`,
which names each context's published half together with its application, its saga steps
and what the check reads of it. The published language cannot import the services, so a
declaration records itself by name when it is made, as a `Payload` does by event type; the
relay and a rebuild from the event store then find a context's mapping by the name the
entry point that composed them hands over (`to_integration_event`).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from domain.ids import event_id
from infrastructure.contracts.envelope import IntegrationEvent, Payload

NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")  # snake_case: one word or several


class UnknownContextError(KeyError):
    """No context of that name has declared its published language."""


def topic(context: str) -> str:
    """Where a context publishes, before any deployment's prefix: `<context>.events`."""
    return f"{context}.events"


@dataclass(frozen=True, eq=False)
class PublishedContext:
    name: str  # snake_case, one word or several: `orders`, `gift_cards`
    aggregates: tuple[type, ...]  # whose stored events the context publishes
    mapping: Mapping[type, Callable[[Any], Payload]] = field(repr=False)  # stored event class -> payload

    declared: ClassVar[dict[str, "PublishedContext"]] = {}

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"a context's name is snake_case, one word or several: {self.name!r}")
        other = PublishedContext.declared.get(self.name)
        if other is not None and other.mapping is not self.mapping:
            raise ValueError(f"the context {self.name!r} is declared twice")
        PublishedContext.declared[self.name] = self

    @property
    def topic(self) -> str:
        return topic(self.name)

    @classmethod
    def named(cls, name: str) -> "PublishedContext":
        try:
            return cls.declared[name]
        except KeyError:
            raise UnknownContextError(
                f"no context {name!r} has declared its published language (services/registry.py)"
            ) from None

    def integration_event(self, domain_event: Any, notification_id: int) -> IntegrationEvent:
        """The published form of one stored domain event of this context."""
        payload = self.mapping[type(domain_event)](domain_event)
        return IntegrationEvent(
            context=self.name,
            event_id=event_id(domain_event.originator_id, domain_event.originator_version),
            event_type=payload.event_type,
            schema_version=payload.schema_version,
            aggregate_id=domain_event.originator_id,
            aggregate_version=domain_event.originator_version,
            notification_id=notification_id,
            occurred_at=domain_event.timestamp,
            command_id=domain_event.command_id,
            correlation_id=domain_event.correlation_id,
            causation_id=domain_event.causation_id,
            data=payload.model_dump(mode="json"),
        )


def to_integration_event(context: str, domain_event: Any, notification_id: int) -> IntegrationEvent:
    """The published form of one stored domain event of the context named `context`."""
    return PublishedContext.named(context).integration_event(domain_event, notification_id)
