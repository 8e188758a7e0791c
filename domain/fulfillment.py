"""Fulfillment: one `Shipment` per order, from the carrier's booking to the hand-over.

The carrier's lifecycle is a label's: a booking holds a parcel for us and can be cancelled;
once the parcel is handed over, it cannot. Each step is recorded as an intent before the
carrier is asked (by a gateway worker, under a key stable for the step, `domain/calls.py`),
so a cancel and a hand-over can never both be sent: whichever is recorded first wins, and
the other is refused here.

    requested (booking asked) -> booked -> handing over -> shipped (handed over)
                              -> failed (refused)   \\-> cancelling -> cancelled
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from uuid import UUID

from domain.calls import Call
from domain.commands import Command
from domain.errors import ShipmentStateError
from domain.ids import shipment_id
from domain.privacy import Sealed
from domain.tracing import Trace, TracedAggregate


class ShipmentStatus(StrEnum):
    REQUESTED = "requested"  # booking asked of the carrier, answer pending
    BOOKED = "booked"  # the carrier holds a parcel for the order; it can still be cancelled
    FAILED = "failed"  # the carrier refused the booking
    HANDING_OVER = "handing_over"  # hand-over asked, answer pending
    SHIPPED = "shipped"  # handed over to the carrier: it can no longer be cancelled
    CANCELLING = "cancelling"  # cancellation asked, answer pending
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True)
class RequestShipment(Command):
    order_id: UUID
    destination: Sealed  # the address, sealed under the customer's key (privacy.py)


@dataclass(frozen=True, kw_only=True)
class HandOverShipment(Command):
    """Give the booked parcel to the carrier: the point after which it cannot be cancelled."""

    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class CancelShipment(Command):
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class RecordCarrierAnswer(Command):
    """What the carrier answered to one call (issued by the gateway worker)."""

    order_id: UUID
    call_id: str
    operation: str  # book, cancel, hand_over
    status: Literal["accepted", "refused"]
    tracking_id: str = ""
    reason: str = ""


class Shipment(TracedAggregate):
    natural_key = "order_id"

    class Event(TracedAggregate.Event):
        order_id: str

    class Requested(TracedAggregate.Created):
        TOPIC = "ShipmentRequested.v1"
        order_id: str
        destination: Sealed

    class Booked(Event):
        TOPIC = "ShipmentBooked.v1"
        tracking_id: str

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.BOOKED
            shipment.tracking_id = self.tracking_id

    class Failed(Event):
        TOPIC = "ShipmentFailed.v1"
        reason: str

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.FAILED

    class HandOverRequested(Event):
        TOPIC = "ShipmentHandOverRequested.v1"

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.HANDING_OVER

    class Shipped(Event):
        TOPIC = "ShipmentShipped.v1"
        tracking_id: str

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.SHIPPED

    class CancelRequested(Event):
        TOPIC = "ShipmentCancelRequested.v1"

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.CANCELLING

    class Cancelled(Event):
        TOPIC = "ShipmentCancelled.v1"

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.CANCELLED

    def __init__(self, order_id: str, destination: Sealed) -> None:
        self.order_id = order_id
        self.destination = destination
        self.status = ShipmentStatus.REQUESTED
        self.tracking_id = ""

    @classmethod
    def request(cls, order_id: UUID, destination: Sealed, trace: Trace) -> tuple["Shipment", Call]:
        """A new shipment and the booking to ask the carrier for."""
        shipment = cls._start(
            cls.Requested, shipment_id(order_id), trace, order_id=str(order_id), destination=destination
        )
        return shipment, shipment._call("book", trace, destination=destination.as_json())

    def book(self, tracking_id: str, trace: Trace) -> None:
        if self.status is ShipmentStatus.REQUESTED:  # else answered before: the first answer stands
            self._record(self.Booked, trace, tracking_id=tracking_id)

    def fail(self, reason: str, trace: Trace) -> None:
        if self.status is ShipmentStatus.REQUESTED:
            self._record(self.Failed, trace, reason=reason)

    def request_hand_over(self, trace: Trace) -> Call | None:
        """Hand the booked parcel over; refused once its cancellation is asked for."""
        if self.status in (ShipmentStatus.HANDING_OVER, ShipmentStatus.SHIPPED):
            return None
        self._check(ShipmentStatus.BOOKED, "hand over")
        self._record(self.HandOverRequested, trace)
        return self._call("hand_over", trace, tracking_id=self.tracking_id)

    def ship(self, trace: Trace) -> None:
        if self.status is ShipmentStatus.HANDING_OVER:
            self._record(self.Shipped, trace, tracking_id=self.tracking_id)

    def request_cancel(self, trace: Trace) -> Call | None:
        """Cancel the booked parcel; refused once its hand-over is asked for."""
        if self.status in (ShipmentStatus.CANCELLING, ShipmentStatus.CANCELLED):
            return None
        self._check(ShipmentStatus.BOOKED, "cancel")
        self._record(self.CancelRequested, trace)
        return self._call("cancel", trace, tracking_id=self.tracking_id)

    def cancel(self, trace: Trace) -> None:
        if self.status is ShipmentStatus.CANCELLING:
            self._record(self.Cancelled, trace)

    def _call(self, operation: str, trace: Trace, **request: object) -> Call:
        request["order_id"] = self.order_id
        return Call.decided(f"{self.id}:{operation}", operation, trace, **request)

    def _check(self, required: ShipmentStatus, operation: str) -> None:
        if self.status is not required:
            raise ShipmentStateError(f"cannot {operation} a shipment that is {self.status}")
