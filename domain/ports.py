"""Ports to what lies outside one command's transaction: the payment provider, the carrier
(implemented in infrastructure, used by services; pure protocols, so they live with the
model), and the store of the saga's deadlines, whose writes a lock's `Fence` guards.

A provider or carrier call is a side effect the database cannot roll back, so every call
carries an idempotency key that is stable across retries, and a timeout is not a failure:
the charge or the booking may have happened. `ProviderTimeoutError` and `CarrierTimeoutError`
say exactly that, and the caller must ask again with the same key rather than decide.

What a call can end in, for every implementation (HTTP client, in-process ledger, fake):

  a reply          the other side decided: approved, declined (the card's answer to an
                   authorization) or refused (a business refusal: the request was understood
                   and is not allowed in the state it met, e.g. a capture after a void). A
                   replay under the same key gets the same reply, refusals included.
  *TimeoutError    the request may have arrived: ask again later with the same key.
  UnreachableError no attempt arrived, so nothing was done: asking again later is safe.
  RequestRejectedError  the request itself is wrong (an unknown authorization or parcel, a key
                   first used for another request, a body the other side cannot read):
                   asking again cannot help, so park it as a permanent failure.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from domain.money import Money


class RequestRejectedError(Exception):
    """The other side says our request is wrong (HTTP 400, 404, or 422 that is not a business
    refusal); `status` is the HTTP status (or the one an HTTP provider would have sent) and
    `detail` the other side's explanation. Repeating the request cannot succeed."""

    def __init__(self, message: str, *, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class UnreachableError(Exception):
    """No attempt reached the other side, so nothing was done; asking later is safe."""


@dataclass(frozen=True)
class ProviderReply:
    """The provider's answer. `reference` names this operation at the provider (an approved
    authorization's reference is what capture, void and refund name). When refused, `reason`
    says why and `code` is the refusal's stable name (`authorization-voided`,
    `authorization-captured`, `not-captured`, `amount-above-authorized`,
    `amount-above-captured`); `code` is empty otherwise."""

    status: Literal["approved", "declined", "refused"]
    reference: str
    reason: str = ""
    code: str = ""


class ProviderTimeoutError(Exception):
    """No answer in time: the operation may or may not have been applied."""


class PaymentProvider(Protocol):
    """Per authorization, the provider allows: one capture of at most the authorized amount,
    unless voided; one void, unless captured; refunds of a captured authorization whose sum
    stays within what was captured. Anything else is answered `refused` (and stays the answer
    for that key); an unknown authorization raises `RequestRejectedError`."""

    def authorize(self, *, idempotency_key: str, amount: Money, token: str, order_id: str) -> ProviderReply:
        """Hold `amount` on the card; `order_id` files the charge under its order at the provider.
        Approved or declined, never refused."""
        ...

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply: ...

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply: ...

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply: ...


@dataclass(frozen=True)
class CarrierReply:
    """The carrier's answer: `accepted` (the parcel is booked, cancelled or handed over, as
    asked) or `refused` with its `reason`. A refused booking has no tracking id; a refused
    cancel or hand-over names the parcel's, and `code` says why (`parcel-handed-over`,
    `parcel-cancelled`)."""

    status: Literal["accepted", "refused"]
    tracking_id: str
    reason: str = ""
    code: str = ""


class CarrierTimeoutError(Exception):
    """No answer in time: the parcel may or may not have been booked, cancelled or handed over."""


class Carrier(Protocol):
    """A parcel is booked, then either cancelled or handed over, never both. The same key
    always gets the first answer; an unknown tracking id raises `RequestRejectedError`."""

    def ship(self, *, idempotency_key: str, destination: str) -> CarrierReply:
        """Book the parcel; the same key always gets the first answer, never a second parcel."""
        ...

    def cancel(self, *, idempotency_key: str, tracking_id: str) -> CarrierReply:
        """Cancel a booked parcel: accepted (also when it is already cancelled), or refused
        once it is handed over."""
        ...

    def hand_over(self, *, idempotency_key: str, tracking_id: str) -> CarrierReply:
        """Hand a booked parcel to the carrier: accepted (also when it is already handed
        over), or refused once it is cancelled."""
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


@dataclass(frozen=True)
class Fence:
    """What a holder of the lock `name` (`infrastructure/leadership.py`) passes with the writes
    the lock guards: every take of the lock gets a higher `token`, so a store that keeps the
    highest token it has seen per name can refuse the writes of a holder that lost the lock
    without knowing (paused or cut off past its lease) once a later holder has taken it."""

    name: str
    token: int


class FencedOutError(Exception):
    """A write under a `Fence` was refused and changed nothing: a later holder has taken the
    lock since, so this one may no longer write."""


class DeadlineStore(Protocol):
    """Where deadlines outlive the process that set them.

    One deadline per (order, kind): scheduling it again changes nothing, so a redelivered
    event cannot move it. A fired deadline is never due again.
    """

    def schedule(self, deadline: Deadline) -> None: ...

    def due(self, now: datetime, limit: int) -> list[Deadline]: ...

    def mark_fired(self, deadline: Deadline, at: datetime, fence: Fence | None = None) -> None:
        """Under a `fence`, only if no later holder of its lock has written: else FencedOutError,
        and the deadline stays due."""
        ...
