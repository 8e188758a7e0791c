"""Published events of the inventory context, and the mapping from its domain events."""

from collections.abc import Callable
from typing import Any

from domain.inventory import StockItem
from infrastructure.contracts.envelope import Payload


class StockItemRegistered(Payload):
    event_type = "StockItemRegistered"
    sku: str


class StockRestocked(Payload):
    event_type = "StockRestocked"
    sku: str
    quantity: int


class StockReserved(Payload):
    event_type = "StockReserved"
    sku: str
    order_id: str
    quantity: int


class StockReleased(Payload):
    event_type = "StockReleased"
    sku: str
    order_id: str
    quantity: int


class StockShipped(Payload):
    event_type = "StockShipped"
    sku: str
    order_id: str
    quantity: int


MAPPING: dict[type, Callable[[Any], Payload]] = {
    StockItem.Registered: lambda e: StockItemRegistered(sku=e.sku),
    StockItem.Restocked: lambda e: StockRestocked(sku=e.sku, quantity=e.quantity),
    StockItem.Reserved: lambda e: StockReserved(sku=e.sku, order_id=e.order_id, quantity=e.quantity),
    StockItem.Released: lambda e: StockReleased(sku=e.sku, order_id=e.order_id, quantity=e.quantity),
    StockItem.Shipped: lambda e: StockShipped(sku=e.sku, order_id=e.order_id, quantity=e.quantity),
}
