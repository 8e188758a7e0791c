"""The happy path: the commands each event of an order's flow causes.

    OrderPlaced               -> reserve all lines; then RESERVED, or fail "out of stock"
    OrderStockReserved        -> authorize the order total; then PAID, or fail "payment declined"
    OrderPaymentAuthorized    -> request the shipment; then FULFILLING
    OrderFulfillmentRequested -> hand the parcel to the carrier
    ShipmentShipped           -> ship the stock, capture the payment; then SHIPPED
    ShipmentFailed            -> fail the order (its compensation follows from OrderFailed)
    OrderShipped              -> COMPLETED

Pure: each reaction reads the event and the order, as loaded by the saga, and returns steps.
"""

from collections.abc import Callable
from typing import TypeVar

from domain.fulfillment import RequestShipment, ShipShipment
from domain.inventory import ReserveStock, ShipStock
from domain.orders import AdvanceOrder, FailOrder, Order, OrderStatus
from domain.payments import AuthorizePayment, CapturePayment
from infrastructure.contracts import IntegrationEvent, Payload
from infrastructure.contracts.fulfillment import ShipmentFailed, ShipmentShipped
from services.saga.steps import Step, caused, chain

P = TypeVar("P", bound=Payload)
Reaction = Callable[[IntegrationEvent, Order], tuple[Step, ...]]


def reserve_stock(event: IntegrationEvent, order: Order) -> tuple[Step, ...]:
    lines = tuple((line.sku, line.quantity) for line in order.lines)
    reserve = caused(event, ReserveStock, order_id=order.id, lines=lines)
    return (
        Step(
            reserve,
            then=(Step(_advance(event, order, OrderStatus.RESERVED)),),
            otherwise=(Step(_fail(event, order, "out of stock")),),
        ),
    )


def authorize_payment(event: IntegrationEvent, order: Order) -> tuple[Step, ...]:
    authorize = caused(
        event, AuthorizePayment, order_id=order.id, amount=order.total, token=order.payment_token
    )
    return (
        Step(
            authorize,
            expect="authorized",
            then=(Step(_advance(event, order, OrderStatus.PAID)),),
            otherwise=(Step(_fail(event, order, "payment declined")),),
        ),
    )


def request_shipment(event: IntegrationEvent, order: Order) -> tuple[Step, ...]:
    request = caused(event, RequestShipment, order_id=order.id, destination=str(order.shipping_address))
    return (chain(request, _advance(event, order, OrderStatus.FULFILLING)),)


def ship(event: IntegrationEvent, order: Order) -> tuple[Step, ...]:
    return (Step(caused(event, ShipShipment, order_id=order.id)),)


def ship_stock_and_capture(event: IntegrationEvent, order: Order) -> tuple[Step, ...]:
    tracking_id = _payload(event, ShipmentShipped).tracking_id
    skus = tuple(line.sku for line in order.lines)
    return (
        chain(
            caused(event, ShipStock, order_id=order.id, skus=skus),
            caused(event, CapturePayment, order_id=order.id),
            _advance(event, order, OrderStatus.SHIPPED, tracking_id),
        ),
    )


def fail_shipment(event: IntegrationEvent, order: Order) -> tuple[Step, ...]:
    reason = _payload(event, ShipmentFailed).reason
    return (Step(_fail(event, order, f"shipment failed: {reason}")),)


def complete(event: IntegrationEvent, order: Order) -> tuple[Step, ...]:
    return (Step(_advance(event, order, OrderStatus.COMPLETED)),)


FORWARD: dict[str, Reaction] = {
    "OrderPlaced": reserve_stock,
    "OrderStockReserved": authorize_payment,
    "OrderPaymentAuthorized": request_shipment,
    "OrderFulfillmentRequested": ship,
    "ShipmentShipped": ship_stock_and_capture,
    "ShipmentFailed": fail_shipment,
    "OrderShipped": complete,
}


def _advance(event: IntegrationEvent, order: Order, step: OrderStatus, tracking_id: str = "") -> AdvanceOrder:
    return caused(event, AdvanceOrder, order_id=order.id, step=step, tracking_id=tracking_id)


def _fail(event: IntegrationEvent, order: Order, reason: str) -> FailOrder:
    return caused(event, FailOrder, order_id=order.id, reason=reason)


def _payload(event: IntegrationEvent, expected: type[P]) -> P:
    payload = event.payload()
    assert isinstance(payload, expected), f"{event.event_id} is {event.event_type}, not {expected.__name__}"
    return payload
