"""Request and response bodies. Requests are strict (no coercion of "3" to 3) and refuse
unknown fields; the values themselves are checked by the domain model, once, where the rules
live, so these classes only translate JSON into commands and aggregates into JSON. A command
is built with its id (from the Idempotency-Key) and the id of the HTTP request as its
`correlation_id`, which its events, and everything the saga does about them, carry on. The
rules the domain enforces are declared here too (`declared`: bounds, lengths, patterns), so
the OpenAPI document shows them; a value that breaks one is refused by the domain, not by
FastAPI, as a 422 problem naming its rule. tests/unit/test_api_rules.py holds the two to
agreement."""

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from domain.errors import InvalidCommandError
from domain.fulfillment import Shipment
from domain.inventory import (
    MAX_LINES,
    MAX_QUANTITY,
    MAX_RESTOCK_QUANTITY,
    SKU_PATTERN,
    RestockSku,
    StockItem,
    check_sku,
)
from domain.money import CURRENCY_PATTERN, MAX_CENTS, Money
from domain.orders import (
    COUNTRY_PATTERN,
    CUSTOMER_ID_LIMIT,
    TEXT_LIMIT,
    TOKEN_LIMIT,
    CancelOrder,
    Order,
    OrderLine,
    OrderStatus,
    PlaceOrder,
    ShippingAddress,
    check_text,
)
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


# `check_sku`, in a path as in a body.
SKU_RULE: JsonDict = {"pattern": f"^{SKU_PATTERN.pattern}$", "minLength": 1, "maxLength": 64}
# `check_text`: every character printable (Python's `str.isprintable`: no Unicode "other" or
# separator but the space), and not spaces only.
PRINTABLE = r"^ *[^\p{C}\p{Z}](?: |[^\p{C}\p{Z}])*$"


def declared(**keywords: int | str) -> Any:
    """JSON Schema keywords (`maximum`, `maxItems`, `pattern`...) for the document only: the
    domain checks them."""
    extra: JsonDict = dict(keywords)
    return Field(json_schema_extra=extra)


def integer(minimum: int, maximum: int) -> Any:
    """An integer the domain bounds. JSON Schema counts `2.0` as the integer 2, but these bodies
    are read strictly and refuse it (422 validation-failed), so the document says so."""
    return declared(minimum=minimum, maximum=maximum, description="An integer, written as one: not `2.0`.")


def text(limit: int) -> Any:
    """The text `check_text` accepts with this `limit`."""
    return declared(minLength=1, maxLength=limit, pattern=PRINTABLE)


class Line(Strict):
    sku: Annotated[str, declared(**SKU_RULE)]
    quantity: Annotated[int, integer(1, MAX_QUANTITY)]
    unit_price_cents: Annotated[int, integer(0, MAX_CENTS)]


class Address(Strict):
    name: Annotated[str, text(TEXT_LIMIT)]
    line1: Annotated[str, text(TEXT_LIMIT)]
    city: Annotated[str, text(TEXT_LIMIT)]
    postal_code: Annotated[str, text(TEXT_LIMIT)]
    country: Annotated[str, declared(pattern=f"^{COUNTRY_PATTERN.pattern}$")]


class PaymentDetails(Strict):
    token: Annotated[str, text(TOKEN_LIMIT)]


class PlaceOrderRequest(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ORDER]})

    customer_id: Annotated[str, text(CUSTOMER_ID_LIMIT)]
    currency: Annotated[str, declared(pattern=f"^{CURRENCY_PATTERN.pattern}$")]
    lines: Annotated[list[Line], declared(minItems=1, maxItems=MAX_LINES)]
    shipping_address: Address
    payment: PaymentDetails

    def command(self, command_id: str, order_id: UUID, tenant_id: str, *, correlation_id: str) -> PlaceOrder:
        lines = (OrderLine(x.sku, x.quantity, Money(x.unit_price_cents, self.currency)) for x in self.lines)
        return PlaceOrder(
            command_id=command_id,
            correlation_id=correlation_id,
            order_id=order_id,
            tenant_id=tenant_id,
            customer_id=self.customer_id,
            currency=self.currency,
            lines=tuple(lines),
            shipping_address=ShippingAddress(**self.shipping_address.model_dump()),
            payment_token=self.payment.token,
        )


class CancelRequest(Strict):
    reason: Annotated[str, text(TEXT_LIMIT)] = "cancelled by the customer"

    def command(self, command_id: str, order_id: UUID, *, correlation_id: str) -> CancelOrder:
        reason = check_text(self.reason, "reason", InvalidCommandError)
        return CancelOrder(
            command_id=command_id, correlation_id=correlation_id, order_id=order_id, reason=reason
        )


class RestockRequest(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"quantity": 10}]})

    quantity: Annotated[int, integer(1, MAX_RESTOCK_QUANTITY)]

    def command(self, command_id: str, sku: str, tenant_id: str, *, correlation_id: str) -> RestockSku:
        """Restock the tenant's own stock of `sku`."""
        # Checked before the key is claimed: the claim keeps the path, SKU included, and
        # PostgreSQL refuses text with a NUL (`/v1/inventory/a%00b/restock`).
        return RestockSku(
            command_id=command_id,
            correlation_id=correlation_id,
            sku=check_sku(sku),
            quantity=self.quantity,
            tenant_id=tenant_id,
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
