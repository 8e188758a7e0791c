"""Published events of the inventory context, and the mapping from its domain events.

Each names the tenant whose stock it moves; one published before tenants owned stock has
none (the in-process tenant's, whose stock items kept their ids)."""

from collections.abc import Callable
from typing import Any

from domain.inventory import StockItem
from infrastructure.contracts.envelope import Payload
from infrastructure.contracts.language import PublishedContext


class StockItemRegistered(Payload):
    event_type = "StockItemRegistered"
    sku: str
    tenant_id: str = ""


class StockRestocked(Payload):
    event_type = "StockRestocked"
    sku: str
    quantity: int
    tenant_id: str = ""


class StockReserved(Payload):
    event_type = "StockReserved"
    sku: str
    order_id: str
    quantity: int
    tenant_id: str = ""


class StockReleased(Payload):
    event_type = "StockReleased"
    sku: str
    order_id: str
    quantity: int
    tenant_id: str = ""


class StockShipped(Payload):
    event_type = "StockShipped"
    sku: str
    order_id: str
    quantity: int
    tenant_id: str = ""


MAPPING: dict[type, Callable[[Any], Payload]] = {
    StockItem.Registered: lambda e: StockItemRegistered(sku=e.sku, tenant_id=e.tenant_id),
    StockItem.Restocked: lambda e: StockRestocked(sku=e.sku, quantity=e.quantity, tenant_id=e.tenant_id),
    StockItem.Reserved: lambda e: StockReserved(
        sku=e.sku, order_id=e.order_id, quantity=e.quantity, tenant_id=e.tenant_id
    ),
    StockItem.Released: lambda e: StockReleased(
        sku=e.sku, order_id=e.order_id, quantity=e.quantity, tenant_id=e.tenant_id
    ),
    StockItem.Shipped: lambda e: StockShipped(
        sku=e.sku, order_id=e.order_id, quantity=e.quantity, tenant_id=e.tenant_id
    ),
}

PUBLISHED = PublishedContext("inventory", (StockItem,), MAPPING)
