"""Drives the saga in memory, as the relay, the consumer and the gateway workers would over
Kafka and HTTP: take every new notification of every context of the system's registry, in
the registry's order, publish it (`PublishedContext.integration_event`), hand it over; when
no event is left, perform the calls that are due (the payment provider's, the carrier's);
and go on until neither is left. A whole order
flow then runs in one call, without a broker, and a test can wrap the handler to redeliver,
reorder or fail.

Like the consumer, the pump moves past an event only after the handler returned: if it
raises, `drain` raises and the next `drain` hands the same event again. Like the consumer's
workers, it binds the event's ids to the log lines of its handling. A failed call is
due again at once (no backoff in memory), as the gateway would try it again after its pause.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from structlog.contextvars import bound_contextvars

from infrastructure.contracts import IntegrationEvent
from services.gateway import GatewayOptions

if TYPE_CHECKING:  # the composition root's result; nothing of infrastructure at run time
    from services.bootstrap import System

Handle = Callable[[IntegrationEvent], None]
AT_ONCE = GatewayOptions(backoff_s=0.0, lease_s=0.0)


class Pump:
    def __init__(self, system: "System", handle: Handle) -> None:
        self.contexts = [(context.published, system.app(context.name)) for context in system.registry]
        self.gateways = system.gateways(AT_ONCE)
        self.handle = handle
        self.positions = dict.fromkeys(system.registry.names, 0)
        self.handed: list[IntegrationEvent] = []

    def drain(self, until: Callable[[], bool] = lambda: False, max_steps: int = 100_000) -> int:
        """Hand over new events and perform due calls until neither is left (or `until()`
        holds); returns how many events were handed over."""
        handed = steps = 0
        while not until():
            event = self._next_event()
            if event is None:
                if not self.perform_calls():
                    return handed
            else:
                with bound_contextvars(**event.trace_ids()):
                    self.handle(event)
                self.positions[event.context] = event.notification_id
                self.handed.append(event)
                handed += 1
            steps += 1
            if steps >= max_steps:
                raise RuntimeError(
                    f"the saga still makes new events or calls after {max_steps} steps: a loop?"
                )
        return handed

    def perform_calls(self) -> int:
        """Perform every call due now, as the gateway workers would; returns how many."""
        return sum(gateway.perform_due() for gateway in self.gateways)

    def _next_event(self) -> IntegrationEvent | None:
        for published, app in self.contexts:
            for notification in app.recorder.select_notifications(self.positions[published.name] + 1, 1):
                return published.integration_event(app.mapper.to_domain_event(notification), notification.id)
        return None
