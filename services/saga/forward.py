"""The happy path, declared per context: which event makes the saga ask each context for
which step, and what follows. Each table below is the `reactions` of its context's
declaration in `services/registry.py`, which merges them in the registry's order.

    inventory    OrderPlaced            reserve all lines; then RESERVED, or fail "out of stock"
                 OrderShipped           ship the reserved stock
    payments     OrderStockReserved     authorize the order total (the provider answers later)
                 OrderShipped           capture the authorized amount
    fulfillment  OrderPaymentAuthorized request a shipment (the carrier books it later); FULFILLING
                 OrderShipped           hand the booked parcel over to the carrier
    orders       PaymentAuthorized      PAID                 PaymentDeclined  fail
                 ShipmentBooked         SHIPPED: the point after which the order cannot stop
                 ShipmentFailed         fail
                 PaymentCaptured, ShipmentShipped: COMPLETED once both have happened

An order is SHIPPED as soon as its parcel is booked and before the carrier gets it: a cancel
that lands first stops the order and its booking is cancelled; one that lands after is
refused, and only then is the parcel handed over. Pure: a reaction reads the event, the
order and (for completion) the other contexts' state, and returns steps.
"""

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from domain.fulfillment import HandOverShipment, RequestShipment, Shipment, ShipmentStatus
from domain.inventory import ReserveStock, ShipStock
from domain.orders import AdvanceOrder, FailOrder, Order, OrderStatus
from domain.payments import AuthorizePayment, CapturePayment, Payment, PaymentStatus
from infrastructure.contracts import IntegrationEvent, Payload
from infrastructure.contracts.fulfillment import ShipmentBooked, ShipmentFailed
from services.saga.steps import Step, caused

P = TypeVar("P", bound=Payload)


class Others(Protocol):
    """What the other contexts hold for the order, read when a reaction asks."""

    def payment(self) -> Payment | None: ...

    def shipment(self) -> Shipment | None: ...


Reaction = Callable[[IntegrationEvent, Order, Others], tuple[Step, ...]]


def reserve_stock(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    lines = tuple((line.sku, line.quantity) for line in order.lines)
    reserve = caused(event, ReserveStock, order_id=order.id, lines=lines, tenant_id=order.tenant_id)
    reserved, out_of_stock = _advance(event, order, OrderStatus.RESERVED), _fail(event, order, "out of stock")
    return (Step(reserve, then=(Step(reserved),), otherwise=(Step(out_of_stock),)),)


def ship_stock(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    skus = tuple(line.sku for line in order.lines)
    return (Step(caused(event, ShipStock, order_id=order.id, skus=skus, tenant_id=order.tenant_id)),)


def authorize_payment(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    fields = {"order_id": order.id, "amount": order.total, "token": order.payment_token}
    return (Step(caused(event, AuthorizePayment, **fields)),)


def capture_payment(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    return (Step(caused(event, CapturePayment, order_id=order.id)),)


def request_shipment(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    request = caused(event, RequestShipment, order_id=order.id, destination=order.shipping_address)
    return (Step(request, then=(Step(_advance(event, order, OrderStatus.FULFILLING)),)),)


def hand_over(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    return (Step(caused(event, HandOverShipment, order_id=order.id)),)


def paid(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    return (Step(_advance(event, order, OrderStatus.PAID)),)


def declined(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    return (Step(_fail(event, order, "payment declined")),)


def shipped(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    tracking_id = _payload(event, ShipmentBooked).tracking_id
    return (Step(_advance(event, order, OrderStatus.SHIPPED, tracking_id)),)


def shipment_failed(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    return (Step(_fail(event, order, f"shipment failed: {_payload(event, ShipmentFailed).reason}")),)


def complete_when_captured_and_handed_over(
    event: IntegrationEvent, order: Order, others: Others
) -> tuple[Step, ...]:
    """Either answer may come last; each checks the other, and the later one completes."""
    payment, shipment = others.payment(), others.shipment()
    captured = payment is not None and payment.status is PaymentStatus.CAPTURED
    handed_over = shipment is not None and shipment.status is ShipmentStatus.SHIPPED
    return (Step(_advance(event, order, OrderStatus.COMPLETED)),) if captured and handed_over else ()


INVENTORY: Mapping[str, Reaction] = {"OrderPlaced": reserve_stock, "OrderShipped": ship_stock}
PAYMENTS: Mapping[str, Reaction] = {"OrderStockReserved": authorize_payment, "OrderShipped": capture_payment}
FULFILLMENT: Mapping[str, Reaction] = {"OrderPaymentAuthorized": request_shipment, "OrderShipped": hand_over}
ORDERS: Mapping[str, Reaction] = {
    "PaymentAuthorized": paid,
    "PaymentDeclined": declined,
    "ShipmentBooked": shipped,
    "ShipmentFailed": shipment_failed,
    "PaymentCaptured": complete_when_captured_and_handed_over,
    "ShipmentShipped": complete_when_captured_and_handed_over,
}


def _advance(event: IntegrationEvent, order: Order, step: OrderStatus, tracking_id: str = "") -> AdvanceOrder:
    return caused(event, AdvanceOrder, order_id=order.id, step=step, tracking_id=tracking_id)


def _fail(event: IntegrationEvent, order: Order, reason: str) -> FailOrder:
    return caused(event, FailOrder, order_id=order.id, reason=reason)


def _payload(event: IntegrationEvent, expected: type[P]) -> P:
    payload = event.payload()
    assert isinstance(payload, expected), f"{event.event_id} is {event.event_type}, not {expected.__name__}"
    return payload
