"""Drives the saga in memory, as the relay and the consumer would over Kafka: take every new
notification of the four contexts, publish it (`to_integration_event`), hand it over, and
go on until no context has anything new. A whole order flow then runs in one call, without
a broker, and a test can wrap the handler to redeliver, reorder or fail.

Like the consumer, the pump moves past an event only after the handler returned: if it
raises, `drain` raises and the next `drain` hands the same event again.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from infrastructure.contracts import IntegrationEvent, to_integration_event

if TYPE_CHECKING:  # the composition root's result; nothing of infrastructure at run time
    from services.bootstrap import System

Handle = Callable[[IntegrationEvent], None]


class Pump:
    def __init__(self, system: "System", handle: Handle) -> None:
        self.apps = {app.name.lower(): app for app in system.contexts}
        self.handle = handle
        self.positions = dict.fromkeys(self.apps, 0)
        self.handed: list[IntegrationEvent] = []

    def drain(self, until: Callable[[], bool] = lambda: False, max_events: int = 100_000) -> int:
        """Hand over new events until none is left (or `until()` holds); returns how many."""
        handed = 0
        while not until():
            event = self._next_event()
            if event is None:
                return handed
            self.handle(event)
            self.positions[event.context] = event.notification_id
            self.handed.append(event)
            handed += 1
            if handed >= max_events:
                raise RuntimeError(f"the saga still makes new events after {max_events}: a loop?")
        return handed

    def _next_event(self) -> IntegrationEvent | None:
        for context, app in self.apps.items():
            for notification in app.recorder.select_notifications(self.positions[context] + 1, 1):
                return to_integration_event(
                    context, app.mapper.to_domain_event(notification), notification.id
                )
        return None
