"""Fulfillment: one `Shipment` per order, from request to delivery or failure."""

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.commands import Command
from domain.errors import ShipmentStateError
from domain.ids import shipment_id
from domain.tracing import Trace, TracedAggregate


class ShipmentStatus(StrEnum):
    REQUESTED = "requested"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True)
class RequestShipment(Command):
    order_id: UUID
    destination: str


@dataclass(frozen=True, kw_only=True)
class RecordShipmentShipped(Command):
    order_id: UUID
    tracking_id: str


@dataclass(frozen=True, kw_only=True)
class ShipShipment(Command):
    """Hand the parcel to the carrier: shipped with its tracking id, or failed with its reason."""

    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class CancelShipment(Command):
    order_id: UUID


class Shipment(TracedAggregate):
    natural_key = "order_id"

    class Event(TracedAggregate.Event):
        order_id: str

    class Requested(TracedAggregate.Created):
        TOPIC = "ShipmentRequested.v1"
        order_id: str
        destination: str

    class Shipped(Event):
        TOPIC = "ShipmentShipped.v1"
        tracking_id: str

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.SHIPPED
            shipment.tracking_id = self.tracking_id

    class Delivered(Event):
        TOPIC = "ShipmentDelivered.v1"

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.DELIVERED

    class Failed(Event):
        TOPIC = "ShipmentFailed.v1"
        reason: str

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.FAILED

    class Cancelled(Event):
        TOPIC = "ShipmentCancelled.v1"

        def apply(self, shipment: "Shipment") -> None:
            shipment.status = ShipmentStatus.CANCELLED

    def __init__(self, order_id: str, destination: str) -> None:
        self.order_id = order_id
        self.destination = destination
        self.status = ShipmentStatus.REQUESTED
        self.tracking_id = ""

    @classmethod
    def request(cls, order_id: UUID, destination: str, trace: Trace) -> "Shipment":
        return cls._start(
            cls.Requested, shipment_id(order_id), trace, order_id=str(order_id), destination=destination
        )

    def ship(self, tracking_id: str, trace: Trace) -> None:
        if self.status is ShipmentStatus.SHIPPED and self.tracking_id == tracking_id:
            return
        self._check(ShipmentStatus.REQUESTED, "ship")
        self._record(self.Shipped, trace, tracking_id=tracking_id)

    def check_can_ship(self) -> None:
        """Only a requested shipment may be booked with a carrier; asked before the call."""
        self._check(ShipmentStatus.REQUESTED, "ship")

    def deliver(self, trace: Trace) -> None:
        if self.status is ShipmentStatus.DELIVERED:
            return
        self._check(ShipmentStatus.SHIPPED, "deliver")
        self._record(self.Delivered, trace)

    def fail(self, reason: str, trace: Trace) -> None:
        if self.status is ShipmentStatus.FAILED:
            return
        self._check(ShipmentStatus.REQUESTED, "fail")
        self._record(self.Failed, trace, reason=reason)

    def cancel(self, trace: Trace) -> None:
        """Stop a shipment that has not left; a cancelled one stays cancelled."""
        if self.status is ShipmentStatus.CANCELLED:
            return
        self._check(ShipmentStatus.REQUESTED, "cancel")
        self._record(self.Cancelled, trace)

    def _check(self, required: ShipmentStatus, operation: str) -> None:
        if self.status is not required:
            raise ShipmentStateError(f"cannot {operation} a shipment that is {self.status}")
