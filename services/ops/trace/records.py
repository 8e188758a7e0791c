"""What `orders trace` reads about one order, one record per row that PostgreSQL holds.

Each record names what links it to the others: an event its command (`command_id`); a
command its cause (`causation_id`: the event, the call or the deadline it answers to); a
call the command that decided it; an attempt and a webhook the call's key. `tree.py` hangs
them on each other by those ids, and nothing else.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from infrastructure.calls.attempts import Attempt


@dataclass(frozen=True)
class Event:
    context: str
    aggregate_id: str
    version: int
    type: str  # the stored topic: "OrderPlaced.v1"
    command_id: str
    correlation_id: str
    causation_id: str
    occurred_at: datetime
    published: bool  # at or below its context's relay position
    detail: Mapping[str, Any] = field(default_factory=dict)  # what explains the flow: a reason, a step

    @property
    def event_id(self) -> str:
        return f"{self.aggregate_id}:{self.version}"


@dataclass(frozen=True)
class Command:
    """A row of a context's command log, with the cause and flow its events (or its id) name."""

    context: str
    command_id: str
    type: str
    recorded_at: datetime
    outcome: str  # "ok", or "refused: <code>"
    causation_id: str
    correlation_id: str
    role: str = ""  # what the saga issued it as, where its id says: "undo payment_voided", "deadline"


@dataclass(frozen=True)
class Call:
    context: str
    call_id: str  # the idempotency key the other party saw
    operation: str
    correlation_id: str
    causation_id: str  # the command that decided it
    state: str  # pending, answered, parked
    attempts: int  # claims by a gateway worker
    last_error: str
    created_at: datetime
    done_at: datetime | None


@dataclass(frozen=True)
class Webhook:
    """A webhook of the payment provider about the order, as the API recorded it."""

    event_id: str
    type: str
    idempotency_key: str  # the call's key
    reference: str
    received_at: datetime


@dataclass(frozen=True)
class Deadline:
    name: str  # its kind: "complete-by"
    due_at: datetime
    fired_at: datetime | None
    correlation_id: str
    key: str  # what the command its firing issues names as its cause


@dataclass(frozen=True)
class Request:
    """What a client's request started, by its correlation id (the request id it sent); ""
    groups the records that link to nothing else read."""

    correlation_id: str


Record = Request | Command | Event | Call | Attempt | Webhook | Deadline


@dataclass(frozen=True)
class Records:
    order_id: UUID
    status: str
    tenant_id: str
    events: tuple[Event, ...]
    commands: tuple[Command, ...]
    calls: tuple[Call, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
