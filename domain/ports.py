"""Ports to what lies outside one command's transaction: the payment provider, the carrier
(implemented in infrastructure, used by services; pure protocols, so they live with the
model), and the store of the saga's deadlines.

A provider or carrier call is a side effect the database cannot roll back, so every call
carries an idempotency key that is stable across retries, and a timeout is not a failure:
the charge or the booking may have happened. `ProviderTimeoutError` and `CarrierTimeoutError`
say exactly that, and the caller must ask again with the same key rather than decide.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from domain.money import Money


@dataclass(frozen=True)
class ProviderReply:
    status: Literal["approved", "declined"]
    reference: str
    reason: str = ""


class ProviderTimeoutError(Exception):
    """No answer in time: the operation may or may not have been applied."""


class PaymentProvider(Protocol):
    def authorize(self, *, idempotency_key: str, amount: Money, token: str, order_id: str) -> ProviderReply:
        """Hold `amount` on the card; `order_id` files the charge under its order at the provider."""
        ...

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply: ...

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply: ...

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply: ...


@dataclass(frozen=True)
class CarrierReply:
    status: Literal["accepted", "refused"]
    tracking_id: str
    reason: str = ""


class CarrierTimeoutError(Exception):
    """No answer in time: the parcel may or may not have been booked."""


class Carrier(Protocol):
    def ship(self, *, idempotency_key: str, destination: str) -> CarrierReply:
        """Book the parcel; the same key always gets the first answer, never a second parcel."""
        ...


@dataclass(frozen=True)
class Deadline:
    """A time by which an order must have shipped, or be stopped (the saga's timeout)."""

    order_id: UUID
    kind: str
    due_at: datetime
    correlation_id: str = ""

    @property
    def key(self) -> str:
        """What identifies the deadline, and so the one command its firing may issue."""
        return f"deadline:{self.order_id}:{self.kind}"


class DeadlineStore(Protocol):
    """Where deadlines outlive the process that set them.

    One deadline per (order, kind): scheduling it again changes nothing, so a redelivered
    event cannot move it. A fired deadline is never due again.
    """

    def schedule(self, deadline: Deadline) -> None: ...

    def due(self, now: datetime, limit: int) -> list[Deadline]: ...

    def mark_fired(self, deadline: Deadline, at: datetime) -> None: ...
