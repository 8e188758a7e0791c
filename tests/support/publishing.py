"""A stand-in for the outbox relay, for tests of what consumes the topics.

It does what the relay does to an event, and nothing else: reads a context's notification
log, maps each stored event with `Registry.to_integration_event`, and produces it to
`settings.topic(context)` keyed by aggregate id with the envelope's headers, waiting for the
broker's acks. No positions, locks or retries: tests choose what is published and in which
order (to craft a gap, a duplicate or a poison record).
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from infrastructure import kafka
from infrastructure.contracts import IntegrationEvent
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.registry import CONTEXTS, REGISTRY
from support.orders import OrderFlows

ACK_TIMEOUT_S = 10.0


def applications(system: System) -> dict[str, Any]:
    """Each context's application by context name, in the registry's order."""
    return dict(system.apps)


def stored_events(system: System, context: str, after: int = 0) -> list[IntegrationEvent]:
    """The context's stored events after notification id `after`, as published."""
    app = applications(system)[context]
    notifications = app.recorder.select_notifications(after + 1, 10_000)
    return [
        REGISTRY.to_integration_event(context, app.mapper.to_domain_event(n), n.id) for n in notifications
    ]


class EventPublisher:
    def __init__(self, settings: Settings, system: System) -> None:
        self.settings = settings
        self.system = system
        self.producer = kafka.producer(settings, "test-publisher")
        self.positions = dict.fromkeys(CONTEXTS, 0)

    def publish_new(self, *contexts: str) -> list[IntegrationEvent]:
        """Publish what the contexts stored since this publisher last looked, in log order."""
        published = []
        for context in contexts or CONTEXTS:
            events = stored_events(self.system, context, self.positions[context])
            self.publish(events)
            self.positions[context] = events[-1].notification_id if events else self.positions[context]
            published += events
        return published

    def publish(self, events: Iterable[IntegrationEvent]) -> None:
        """Produce the events in the given order, as the relay would, and wait for every ack."""
        futures = [
            self.producer.send(
                self.settings.topic(event.context),
                key=event.key,
                value=event.to_bytes(),
                headers=event.headers(),
            )
            for event in events
        ]
        for future in futures:
            future.get(timeout=ACK_TIMEOUT_S)

    def produce(self, context: str, value: bytes, key: bytes | None) -> None:
        """One record of any bytes: how a test puts a malformed (poison) record on a topic."""
        self.producer.send(self.settings.topic(context), key=key, value=value).get(timeout=ACK_TIMEOUT_S)

    def close(self) -> None:
        self.producer.close()


@dataclass(frozen=True)
class World:
    """The four context applications, order flows through them, and a publisher of their events."""

    settings: Settings
    system: System
    flows: OrderFlows
    publisher: EventPublisher


@contextmanager
def world(settings: Settings) -> Iterator[World]:
    system = build(settings)
    publisher = EventPublisher(settings, system)
    try:
        yield World(settings, system, OrderFlows(system), publisher)
    finally:
        publisher.close()
        system.close()
