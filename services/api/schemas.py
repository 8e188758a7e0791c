"""Request and response bodies. Requests are strict (no coercion of "3" to 3) and refuse
unknown fields; the values themselves are checked by the domain model, once, where the rules
live, so these classes only translate JSON into commands and aggregates into JSON. The bounds
the domain enforces are declared here too (`bounded`), so the OpenAPI document shows them; a
value beyond one is refused by the domain, as a 422 problem naming its rule."""

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from domain.errors import InvalidCommandError
from domain.fulfillment import Shipment
from domain.inventory import MAX_LINES, MAX_QUANTITY, MAX_RESTOCK_QUANTITY, RestockSku, StockItem, check_sku
from domain.money import Money
from domain.orders import CancelOrder, Order, OrderLine, OrderStatus, PlaceOrder, ShippingAddress, check_text
from domain.payments import Payment

EXAMPLE_ORDER: dict[str, Any] = {
    "customer_id": "customer-42",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "1 Main Street",
        "city": "Utrecht",
        "postal_code": "3511",
        "country": "NL",
    },
    "payment": {"token": "tok_visa"},
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def bounded(**bounds: int) -> Any:
    """JSON Schema bounds (`maximum`, `maxItems`...) for the document only: the domain checks them."""
    declared: JsonDict = dict(bounds)
    return Field(json_schema_extra=declared)


class Line(Strict):
    sku: str
    quantity: Annotated[int, bounded(minimum=1, maximum=MAX_QUANTITY)]
    unit_price_cents: int


class Address(Strict):
    name: str
    line1: str
    city: str
    postal_code: str
    country: str


class PaymentDetails(Strict):
    token: str


class PlaceOrderRequest(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ORDER]})

    customer_id: str
    currency: str
    lines: Annotated[list[Line], bounded(minItems=1, maxItems=MAX_LINES)]
    shipping_address: Address
    payment: PaymentDetails

    def command(self, command_id: str, order_id: UUID, tenant_id: str) -> PlaceOrder:
        lines = (OrderLine(x.sku, x.quantity, Money(x.unit_price_cents, self.currency)) for x in self.lines)
        return PlaceOrder(
            command_id=command_id,
            order_id=order_id,
            tenant_id=tenant_id,
            customer_id=self.customer_id,
            currency=self.currency,
            lines=tuple(lines),
            shipping_address=ShippingAddress(**self.shipping_address.model_dump()),
            payment_token=self.payment.token,
        )


class CancelRequest(Strict):
    reason: str = "cancelled by the customer"

    def command(self, command_id: str, order_id: UUID) -> CancelOrder:
        reason = check_text(self.reason, "reason", InvalidCommandError)
        return CancelOrder(command_id=command_id, order_id=order_id, reason=reason)


class RestockRequest(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"quantity": 10}]})

    quantity: Annotated[int, bounded(minimum=1, maximum=MAX_RESTOCK_QUANTITY)]

    def command(self, command_id: str, sku: str, tenant_id: str) -> RestockSku:
        """Restock the tenant's own stock of `sku`."""
        # Checked before the key is claimed: the claim keeps the path, SKU included, and
        # PostgreSQL refuses text with a NUL (`/v1/inventory/a%00b/restock`).
        return RestockSku(
            command_id=command_id, sku=check_sku(sku), quantity=self.quantity, tenant_id=tenant_id
        )


class OrderReceipt(BaseModel):
    """What a command on an order answered, built from its Receipt alone."""

    order_id: UUID
    status: OrderStatus
    total_cents: int


class StockReceipt(BaseModel):
    sku: str
    available: int


class PaymentView(BaseModel):
    status: str
    captured_cents: int
    refunded_cents: int

    @classmethod
    def of(cls, payment: Payment) -> "PaymentView":
        return cls(
            status=payment.status.value,
            captured_cents=payment.captured.cents,
            refunded_cents=payment.refunded.cents,
        )


class ShipmentView(BaseModel):
    status: str
    tracking_id: str

    @classmethod
    def of(cls, shipment: Shipment) -> "ShipmentView":
        return cls(status=shipment.status.value, tracking_id=shipment.tracking_id)


class OrderView(BaseModel):
    order_id: UUID
    status: OrderStatus
    customer_id: str
    currency: str
    total_cents: int
    lines: list[Line]
    shipping_address: Address | None  # None once the customer's personal data was erased
    reason: str  # why it was cancelled or failed; empty otherwise
    payment: PaymentView | None  # None until the saga asks for the payment
    shipment: ShipmentView | None  # None until the saga requests the shipment

    @classmethod
    def of(
        cls, order: Order, payment: Payment | None, shipment: Shipment | None, address: ShippingAddress | None
    ) -> "OrderView":
        return cls(
            order_id=order.id,
            status=order.status,
            customer_id=order.customer_id,
            currency=order.currency,
            total_cents=order.total.cents,
            lines=[
                Line(sku=x.sku, quantity=x.quantity, unit_price_cents=x.unit_price.cents) for x in order.lines
            ],
            shipping_address=None if address is None else Address(**vars(address)),
            reason=order.reason,
            payment=None if payment is None else PaymentView.of(payment),
            shipment=None if shipment is None else ShipmentView.of(shipment),
        )


class StockView(BaseModel):
    sku: str
    available: int
    reserved: int
    shipped: int

    @classmethod
    def of(cls, item: StockItem) -> "StockView":
        return cls(sku=item.sku, available=item.available, reserved=item.reserved, shipped=item.shipped)
