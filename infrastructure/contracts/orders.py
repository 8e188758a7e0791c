"""Published events of the orders context, and the mapping from its domain events."""

from collections.abc import Callable
from typing import Any

from domain.orders import Order
from infrastructure.contracts.envelope import Payload
from infrastructure.contracts.language import PublishedContext


class Line(Payload):
    sku: str
    quantity: int
    unit_price_cents: int


class OrderPlaced(Payload):
    """What consumers need of a new order. The address and the card token stay in the orders
    store, sealed under the customer's key: whoever needs them (the saga, for the payment and
    the shipment) reads them there, and no topic ever carries them."""

    event_type = "OrderPlaced"
    order_id: str
    customer_id: str
    currency: str
    total_cents: int
    lines: list[Line]
    tenant_id: str = ""  # the API client's tenant; empty for orders placed in process


class OrderStockReserved(Payload):
    event_type = "OrderStockReserved"
    order_id: str


class OrderPaymentAuthorized(Payload):
    event_type = "OrderPaymentAuthorized"
    order_id: str


class OrderFulfillmentRequested(Payload):
    event_type = "OrderFulfillmentRequested"
    order_id: str


class OrderShipped(Payload):
    event_type = "OrderShipped"
    order_id: str
    tracking_id: str


class OrderCompleted(Payload):
    event_type = "OrderCompleted"
    order_id: str


class OrderCancelled(Payload):
    event_type = "OrderCancelled"
    order_id: str
    reason: str


class OrderFailed(Payload):
    event_type = "OrderFailed"
    order_id: str
    reason: str


class OrderCompensated(Payload):
    event_type = "OrderCompensated"
    order_id: str
    step: str


def _placed(e: Any) -> Payload:
    lines = [Line(sku=x.sku, quantity=x.quantity, unit_price_cents=x.unit_price.cents) for x in e.lines]
    return OrderPlaced(
        order_id=str(e.originator_id),
        customer_id=e.customer_id,
        currency=e.currency,
        total_cents=e.total.cents,
        lines=lines,
        tenant_id=e.tenant_id,
    )


MAPPING: dict[type, Callable[[Any], Payload]] = {
    Order.Placed: _placed,
    Order.StockReserved: lambda e: OrderStockReserved(order_id=str(e.originator_id)),
    Order.PaymentAuthorized: lambda e: OrderPaymentAuthorized(order_id=str(e.originator_id)),
    Order.FulfillmentRequested: lambda e: OrderFulfillmentRequested(order_id=str(e.originator_id)),
    Order.Shipped: lambda e: OrderShipped(order_id=str(e.originator_id), tracking_id=e.tracking_id),
    Order.Completed: lambda e: OrderCompleted(order_id=str(e.originator_id)),
    Order.Cancelled: lambda e: OrderCancelled(order_id=str(e.originator_id), reason=e.reason),
    Order.Failed: lambda e: OrderFailed(order_id=str(e.originator_id), reason=e.reason),
    Order.Compensated: lambda e: OrderCompensated(order_id=str(e.originator_id), step=e.step),
}

PUBLISHED = PublishedContext("orders", (Order,), MAPPING)
