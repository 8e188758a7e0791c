"""Inventory: one `StockItem` per SKU.

Reservations are keyed by order id, which makes reserve and release naturally idempotent:
reserving again for the same order changes nothing. Stock is conserved by construction:
restocked = available + reserved + shipped (invariant I2).
"""

import re
from dataclasses import dataclass
from uuid import UUID

from domain.commands import Command
from domain.errors import (
    InsufficientStockError,
    InvalidQuantityError,
    InvalidSkuError,
    StockStateError,
)
from domain.ids import stock_item_id
from domain.tracing import Trace, TracedAggregate

MAX_QUANTITY = 1_000_000
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_sku(sku: str) -> str:
    if not isinstance(sku, str) or not _SKU.fullmatch(sku):
        raise InvalidSkuError(f"SKU must be 1-64 letters, digits, '.', '_' or '-', got {sku!r}")
    return sku


def check_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidQuantityError(f"quantity must be a whole number, got {quantity!r}")
    if not 0 < quantity <= MAX_QUANTITY:
        raise InvalidQuantityError(f"quantity must be between 1 and {MAX_QUANTITY}, got {quantity}")
    return quantity


@dataclass(frozen=True, kw_only=True)
class RestockSku(Command):
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ReserveStock(Command):
    """Reserve every line of one order, all or nothing."""

    order_id: UUID
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True, kw_only=True)
class ReleaseStock(Command):
    order_id: UUID
    skus: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ShipStock(Command):
    order_id: UUID
    skus: tuple[str, ...]


class StockItem(TracedAggregate):
    natural_key = "sku"

    class Event(TracedAggregate.Event):
        sku: str

    class Registered(TracedAggregate.Created):
        TOPIC = "StockItemRegistered.v1"
        sku: str

    class Restocked(Event):
        TOPIC = "StockRestocked.v1"
        quantity: int

        def apply(self, item: "StockItem") -> None:
            item.available += self.quantity
            item.restocked += self.quantity

    class Reserved(Event):
        TOPIC = "StockReserved.v1"
        order_id: str
        quantity: int

        def apply(self, item: "StockItem") -> None:
            item.available -= self.quantity
            item.reservations[self.order_id] = self.quantity

    class Released(Event):
        TOPIC = "StockReleased.v1"
        order_id: str
        quantity: int

        def apply(self, item: "StockItem") -> None:
            del item.reservations[self.order_id]
            item.available += self.quantity

    class Shipped(Event):
        TOPIC = "StockShipped.v1"
        order_id: str
        quantity: int

        def apply(self, item: "StockItem") -> None:
            del item.reservations[self.order_id]
            item.shipped += self.quantity
            item.shipped_orders.add(self.order_id)

    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.available = 0
        self.restocked = 0
        self.shipped = 0
        self.reservations: dict[str, int] = {}
        self.shipped_orders: set[str] = set()

    @classmethod
    def register(cls, sku: str, trace: Trace) -> "StockItem":
        return cls._start(cls.Registered, stock_item_id(check_sku(sku)), trace, sku=sku)

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    def restock(self, quantity: int, trace: Trace) -> None:
        self._record(self.Restocked, trace, quantity=check_quantity(quantity))

    def reserve(self, order_id: UUID, quantity: int, trace: Trace) -> None:
        """Hold `quantity` for the order; a second reservation for the same order is a no-op."""
        check_quantity(quantity)
        key = str(order_id)
        if key in self.reservations or key in self.shipped_orders:
            return
        if quantity > self.available:
            raise InsufficientStockError(f"{self.sku}: {quantity} requested, {self.available} available")
        self._record(self.Reserved, trace, order_id=key, quantity=quantity)

    def release(self, order_id: UUID, trace: Trace) -> None:
        """Give the order's reservation back; nothing to release is not an error."""
        quantity = self.reservations.get(str(order_id))
        if quantity is not None:
            self._record(self.Released, trace, order_id=str(order_id), quantity=quantity)

    def ship(self, order_id: UUID, trace: Trace) -> None:
        """Turn the order's reservation into shipped stock."""
        key = str(order_id)
        if key in self.shipped_orders:
            return
        if key not in self.reservations:
            raise StockStateError(f"{self.sku}: order {order_id} holds no reservation to ship")
        self._record(self.Shipped, trace, order_id=key, quantity=self.reservations[key])
