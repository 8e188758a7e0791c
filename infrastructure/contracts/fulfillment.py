"""Published events of the fulfillment context, and the mapping from its domain events."""

from collections.abc import Callable
from typing import Any

from domain.fulfillment import Shipment
from infrastructure.contracts.envelope import Payload
from infrastructure.contracts.language import PublishedContext


class ShipmentRequested(Payload):
    """The address stays in the fulfillment store, sealed: only the carrier is sent it."""

    event_type = "ShipmentRequested"
    order_id: str


class ShipmentBooked(Payload):
    """The carrier holds a parcel for the order; until it is handed over, it can be cancelled."""

    event_type = "ShipmentBooked"
    order_id: str
    tracking_id: str


class ShipmentHandOverRequested(Payload):
    event_type = "ShipmentHandOverRequested"
    order_id: str


class ShipmentShipped(Payload):
    """The parcel is handed over to the carrier."""

    event_type = "ShipmentShipped"
    order_id: str
    tracking_id: str


class ShipmentFailed(Payload):
    event_type = "ShipmentFailed"
    order_id: str
    reason: str


class ShipmentCancelRequested(Payload):
    event_type = "ShipmentCancelRequested"
    order_id: str


class ShipmentCancelled(Payload):
    event_type = "ShipmentCancelled"
    order_id: str


MAPPING: dict[type, Callable[[Any], Payload]] = {
    Shipment.Requested: lambda e: ShipmentRequested(order_id=e.order_id),
    Shipment.Booked: lambda e: ShipmentBooked(order_id=e.order_id, tracking_id=e.tracking_id),
    Shipment.Failed: lambda e: ShipmentFailed(order_id=e.order_id, reason=e.reason),
    Shipment.HandOverRequested: lambda e: ShipmentHandOverRequested(order_id=e.order_id),
    Shipment.Shipped: lambda e: ShipmentShipped(order_id=e.order_id, tracking_id=e.tracking_id),
    Shipment.CancelRequested: lambda e: ShipmentCancelRequested(order_id=e.order_id),
    Shipment.Cancelled: lambda e: ShipmentCancelled(order_id=e.order_id),
}

PUBLISHED = PublishedContext("fulfillment", (Shipment,), MAPPING)
