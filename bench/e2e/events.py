"""Every event the four contexts stored, reduced to what the figures need.

The timestamps are the ones the events carry: set by the process that recorded them, when it
decided, on this machine's clock. They, not the benchmark's own clock, say when an order
was placed and when it completed.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.ids import event_id
from domain.orders import Order
from services.bootstrap import System
from services.context import ContextApplication

PAGE = 1_000
TERMINAL = {
    Order.Completed.TOPIC: "completed",
    Order.Failed.TOPIC: "failed",
    Order.Cancelled.TOPIC: "cancelled",
}
_VERSION = re.compile(r"\.v\d+$")


@dataclass(frozen=True)
class Stored:
    id: str  # "<originator id>:<version>", what a caused event names as its causation_id
    topic: str  # the event's TOPIC, e.g. "OrderPlaced.v1"
    originator_id: UUID
    at: float  # epoch seconds
    causation_id: str
    correlation_id: str  # one per order flow
    reason: str  # why a failed or cancelled order stopped ("" for most events)

    @property
    def kind(self) -> str:
        """The topic without its version: "OrderPlaced"."""
        return _VERSION.sub("", self.topic)


def read_all(system: System) -> list[Stored]:
    return [event for app in system.contexts for event in _read(app)]


def _read(app: ContextApplication) -> Iterator[Stored]:
    """Every event in the context's notification log, in order: all are aggregate events."""
    start = 1
    while page := app.recorder.select_notifications(start, PAGE):
        for notification in page:
            event = app.mapper.to_domain_event(notification)
            if not isinstance(event, Aggregate.Event):
                raise TypeError(f"{app.name} stored {type(event).__qualname__}, not an aggregate event")
            yield Stored(
                id=event_id(event.originator_id, event.originator_version),
                topic=getattr(type(event), "TOPIC", type(event).__qualname__),
                originator_id=event.originator_id,
                at=event.timestamp.timestamp(),
                causation_id=str(getattr(event, "causation_id", "")),
                correlation_id=str(getattr(event, "correlation_id", "")),
                reason=str(getattr(event, "reason", "")),
            )
        start = page[-1].id + 1


@dataclass(frozen=True)
class Fate:
    """One order: when it was placed, and how and when it ended (None: still in flight)."""

    placed_at: float
    ending: str | None = None
    ended_at: float | None = None

    @property
    def latency_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.placed_at


def fates(events: list[Stored]) -> dict[UUID, Fate]:
    placed = {e.originator_id: e.at for e in events if e.topic == Order.Placed.TOPIC}
    ended = {e.originator_id: e for e in events if e.topic in TERMINAL}
    result = {}
    for order_id, at in placed.items():
        end = ended.get(order_id)
        result[order_id] = Fate(at) if end is None else Fate(at, _ending(end), end.at)
    return result


def _ending(event: Stored) -> str:
    """How an order ended, with the gist of its reason: "failed (deadline passed)"."""
    gist = event.reason.partition(":")[0]
    return f"{TERMINAL[event.topic]} ({gist})" if gist else TERMINAL[event.topic]


@dataclass(frozen=True)
class Hop:
    """An event caused by another stored one: "OrderPlaced -> StockReserved"."""

    kind: str
    seconds: float  # from the cause to the effect
    into_flow_s: float  # from the first event of the flow (its correlation id) to the cause


def hops(events: list[Stored]) -> Iterator[Hop]:
    by_id = {event.id: event for event in events}
    flow_start: dict[str, float] = {}
    for event in events:
        flow_start[event.correlation_id] = min(event.at, flow_start.get(event.correlation_id, event.at))
    for event in events:
        cause = by_id.get(event.causation_id) or _asked_by(event, by_id)
        if cause is not None:
            into = cause.at - flow_start[cause.correlation_id]
            yield Hop(f"{cause.kind} -> {event.kind}", event.at - cause.at, into)


def _asked_by(event: Stored, by_id: dict[str, Stored]) -> Stored | None:
    """The intent an outside party's answer answers. The answer's cause is the call
    ("<aggregate id>:<operation>", `domain/calls.py`), and the intent that made the call is
    the event just before the answer on the same aggregate (a payment asked to capture, a
    shipment asked to be handed over): the hop through the gateway and the outside party."""
    aggregate, _, version = event.id.rpartition(":")
    if not event.causation_id.startswith(f"{aggregate}:") or event.causation_id in by_id:
        return None
    return by_id.get(f"{aggregate}:{int(version) - 1}")
