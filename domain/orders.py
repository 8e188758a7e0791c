"""Orders: the `Order` aggregate and its lifecycle.

placed -> reserved -> paid -> fulfilling -> shipped -> completed, or cancelled / failed.
Moving to a state the order has already reached is a no-op (no event), so a redelivered
saga step changes nothing; moving backwards or out of a terminal state is an error.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from domain.commands import Command
from domain.errors import (
    InvalidAddressError,
    InvalidCommandError,
    InvalidPaymentTokenError,
    OrderShippedError,
    OrderStateError,
    UnknownSkuError,
)
from domain.inventory import check_line_count, check_quantity, check_sku
from domain.money import Money
from domain.privacy import Sealed, Vault, open_json, owner_of, seal_json
from domain.tracing import Trace, TracedAggregate

COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")


class OrderStatus(StrEnum):
    PLACED = "placed"
    RESERVED = "reserved"
    PAID = "paid"
    FULFILLING = "fulfilling"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


PROGRESS = [
    OrderStatus.PLACED,
    OrderStatus.RESERVED,
    OrderStatus.PAID,
    OrderStatus.FULFILLING,
    OrderStatus.SHIPPED,
    OrderStatus.COMPLETED,
]
TERMINAL = {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED}


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Money

    def __post_init__(self) -> None:
        check_sku(self.sku)
        check_quantity(self.quantity)

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str

    def __post_init__(self) -> None:
        for field_name in ("name", "line1", "city", "postal_code"):
            check_text(getattr(self, field_name), f"address {field_name}", InvalidAddressError)
        if not isinstance(self.country, str) or not COUNTRY_PATTERN.fullmatch(self.country):
            raise InvalidAddressError(f"country must be two capital letters, got {self.country!r}")

    def __str__(self) -> str:
        return f"{self.name}, {self.line1}, {self.postal_code} {self.city}, {self.country}"

    @classmethod
    def opened(cls, vault: Vault, sealed: Sealed) -> "ShippingAddress":
        """The address an order sealed; `PersonalDataErasedError` once its owner was forgotten."""
        return cls(**open_json(vault, sealed))


TEXT_LIMIT = 200  # characters in an address field or a reason
CUSTOMER_ID_LIMIT = 100
TOKEN_LIMIT = 64


def check_text(value: str, what: str, error: type[InvalidCommandError], limit: int = TEXT_LIMIT) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or not value.isprintable():
        raise error(f"{what} must be 1-{limit} printable characters")
    return value


@dataclass(frozen=True, kw_only=True)
class PlaceOrder(Command):
    order_id: UUID
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    shipping_address: ShippingAddress
    payment_token: str
    # Whose order it is: the API client's tenant, so that no other tenant can see it.
    # Empty for orders placed in process (the demo, tests), which no API client owns.
    tenant_id: str = ""


@dataclass(frozen=True, kw_only=True)
class CancelOrder(Command):
    order_id: UUID
    reason: str


class Order(TracedAggregate):
    class Placed(TracedAggregate.Created):
        TOPIC = "OrderPlaced.v1"
        customer_id: str
        currency: str
        lines: tuple[OrderLine, ...]
        total: Money
        shipping_address: Sealed  # personal data: sealed under the customer's key (privacy.py)
        payment_token: Sealed
        tenant_id: str = ""  # events stored before tenants existed decode with no tenant

    class Step(TracedAggregate.Event):
        """Base of the happy-path events: each moves the order to its `status`."""

        status: ClassVar[OrderStatus]

        def apply(self, order: "Order") -> None:
            order.status = self.status
            order.history.append(self.status.value)

    class StockReserved(Step):
        TOPIC = "OrderStockReserved.v1"
        status = OrderStatus.RESERVED

    class PaymentAuthorized(Step):
        TOPIC = "OrderPaymentAuthorized.v1"
        status = OrderStatus.PAID

    class FulfillmentRequested(Step):
        TOPIC = "OrderFulfillmentRequested.v1"
        status = OrderStatus.FULFILLING

    class Shipped(Step):
        TOPIC = "OrderShipped.v1"
        status = OrderStatus.SHIPPED
        tracking_id: str

        def apply(self, order: "Order") -> None:
            super().apply(order)
            order.tracking_id = self.tracking_id

    class Completed(Step):
        TOPIC = "OrderCompleted.v1"
        status = OrderStatus.COMPLETED

    class Cancelled(TracedAggregate.Event):
        TOPIC = "OrderCancelled.v1"
        reason: str

        def apply(self, order: "Order") -> None:
            order.status = OrderStatus.CANCELLED
            order.reason = self.reason

    class Failed(TracedAggregate.Event):
        TOPIC = "OrderFailed.v1"
        reason: str

        def apply(self, order: "Order") -> None:
            order.status = OrderStatus.FAILED
            order.reason = self.reason

    class Compensated(TracedAggregate.Event):
        """A compensating step (stock released, payment voided...) is done for this order."""

        TOPIC = "OrderCompensated.v1"
        step: str

        def apply(self, order: "Order") -> None:
            order.compensations.append(self.step)

    def __init__(
        self,
        customer_id: str,
        currency: str,
        lines: tuple[OrderLine, ...],
        total: Money,
        shipping_address: Sealed,
        payment_token: Sealed,
        tenant_id: str = "",
    ) -> None:
        self.tenant_id = tenant_id
        self.customer_id = customer_id
        self.currency = currency
        self.lines = tuple(lines)
        self.total = total
        self.shipping_address = shipping_address
        self.payment_token = payment_token
        self.status = OrderStatus.PLACED
        self.history: list[str] = [OrderStatus.PLACED.value]
        self.reason = ""
        self.tracking_id = ""
        self.compensations: list[str] = []

    @classmethod
    def place(cls, command: PlaceOrder, is_known_sku: Callable[[str], bool], vault: Vault) -> "Order":
        """Accept an order whose lines are well-formed, priced in one currency and stocked.
        Its address and card token are sealed under the customer's key before any event
        holds them."""
        check_text(command.customer_id, "customer id", InvalidCommandError, CUSTOMER_ID_LIMIT)
        lines = command.lines
        check_line_count(len(lines), "an order")
        total = Money.zero(command.currency)
        for line in lines:
            total = total + line.subtotal
            if not is_known_sku(line.sku):
                raise UnknownSkuError(f"unknown SKU {line.sku!r}")
        token = check_text(command.payment_token, "payment token", InvalidPaymentTokenError, TOKEN_LIMIT)
        owner = owner_of(command.tenant_id, command.customer_id)
        return cls._start(
            cls.Placed,
            command.order_id,
            command.trace,
            customer_id=command.customer_id,
            currency=command.currency,
            lines=tuple(lines),
            total=total,
            shipping_address=seal_json(vault, owner, vars(command.shipping_address)),
            payment_token=vault.seal(owner, token),
            tenant_id=command.tenant_id,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def confirm_stock_reserved(self, trace: Trace) -> None:
        self._advance(self.StockReserved, trace)

    def confirm_payment_authorized(self, trace: Trace) -> None:
        self._advance(self.PaymentAuthorized, trace)

    def request_fulfillment(self, trace: Trace) -> None:
        self._advance(self.FulfillmentRequested, trace)

    def confirm_shipped(self, tracking_id: str, trace: Trace) -> None:
        self._advance(self.Shipped, trace, tracking_id=tracking_id)

    def complete(self, trace: Trace) -> None:
        self._advance(self.Completed, trace)

    def _advance(self, step: type["Order.Step"], trace: Trace, **fields: str) -> None:
        """Move one step along the happy path; a step already taken is a no-op."""
        if self.status in (OrderStatus.CANCELLED, OrderStatus.FAILED):
            raise OrderStateError(f"order {self.id} is {self.status}, cannot become {step.status}")
        current, target = PROGRESS.index(self.status), PROGRESS.index(step.status)
        if target <= current:
            return
        if target != current + 1:
            raise OrderStateError(f"order {self.id} is {self.status}, cannot skip to {step.status}")
        self._record(step, trace, **fields)

    def cancel(self, reason: str, trace: Trace) -> None:
        """Cancel before shipping; cancelling a cancelled order is a no-op. Once shipped (its
        parcel booked and about to be handed to the carrier), an order runs to completion."""
        if self.status is OrderStatus.CANCELLED:
            return
        if self.status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED):
            raise OrderShippedError(f"order {self.id} has shipped and can no longer be cancelled")
        if self.is_terminal:
            raise OrderStateError(f"order {self.id} is {self.status} and can no longer be cancelled")
        self._record(self.Cancelled, trace, reason=reason)

    def fail(self, reason: str, trace: Trace) -> None:
        if self.status is OrderStatus.FAILED:
            return
        if self.is_terminal or self.status is OrderStatus.SHIPPED:
            raise OrderStateError(f"order {self.id} is {self.status} and can no longer fail")
        self._record(self.Failed, trace, reason=reason)

    def record_compensation(self, step: str, trace: Trace) -> None:
        if self.status not in (OrderStatus.CANCELLED, OrderStatus.FAILED):
            raise OrderStateError(f"order {self.id} is {self.status}; only a stopped order is compensated")
        if step not in self.compensations:
            self._record(self.Compensated, trace, step=step)


@dataclass(frozen=True, kw_only=True)
class AdvanceOrder(Command):
    """Record that the order reached `step` (issued by the saga as each context confirms)."""

    order_id: UUID
    step: OrderStatus
    tracking_id: str = ""


@dataclass(frozen=True, kw_only=True)
class FailOrder(Command):
    order_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordCompensation(Command):
    order_id: UUID
    step: str
