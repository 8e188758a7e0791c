"""Published events of the fulfillment context, and the mapping from its domain events."""

from collections.abc import Callable
from typing import Any

from domain.fulfillment import Shipment
from infrastructure.contracts.envelope import Payload


class ShipmentRequested(Payload):
    event_type = "ShipmentRequested"
    order_id: str
    destination: str


class ShipmentShipped(Payload):
    event_type = "ShipmentShipped"
    order_id: str
    tracking_id: str


class ShipmentDelivered(Payload):
    event_type = "ShipmentDelivered"
    order_id: str


class ShipmentFailed(Payload):
    event_type = "ShipmentFailed"
    order_id: str
    reason: str


class ShipmentCancelled(Payload):
    event_type = "ShipmentCancelled"
    order_id: str


MAPPING: dict[type, Callable[[Any], Payload]] = {
    Shipment.Requested: lambda e: ShipmentRequested(order_id=e.order_id, destination=e.destination),
    Shipment.Shipped: lambda e: ShipmentShipped(order_id=e.order_id, tracking_id=e.tracking_id),
    Shipment.Delivered: lambda e: ShipmentDelivered(order_id=e.order_id),
    Shipment.Failed: lambda e: ShipmentFailed(order_id=e.order_id, reason=e.reason),
    Shipment.Cancelled: lambda e: ShipmentCancelled(order_id=e.order_id),
}
