"""Inventory: one `StockItem` per tenant and SKU.

Stock belongs to a tenant, as orders do. A tenant restocks, reads and reserves its own stock
of a SKU, an item of its own (`stock_item_id(sku, tenant_id)`), and an order draws only on the
stock of the tenant that placed it. Another tenant's stock of the same SKU is another item,
which nobody else can name: to them it does not exist. The empty tenant is that of callers in
process (tests, benchmarks), which no API key maps to.

Reservations are keyed by order id, which makes reserve and release naturally idempotent:
reserving again for an order that holds a reservation changes nothing. Stock is conserved by
construction: restocked = available + reserved + shipped (invariant I2).

The item carries only what its rules need: the counters and the reservations of the orders
still open. Once an order's stock is shipped or released its entry goes; the history stays in
the events and the `stock` read model. So a SKU's state, and the snapshot its loads start
from, do not grow with the orders behind it. A repeat of a closed order's reserve or ship is
answered by the command log, through which every command passes: the saga derives its
commands' ids from their cause, so a repeat is the same command.

The bounds keep a single request from moving absurd amounts: at most MAX_QUANTITY units on
an order line (and so per SKU of a reservation), MAX_LINES lines per order (SKUs per
reservation) and MAX_RESTOCK_QUANTITY units per restock.
"""

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.commands import Command
from domain.errors import (
    EmptyOrderError,
    InsufficientStockError,
    InvalidQuantityError,
    InvalidSkuError,
    StockStateError,
    TooManyLinesError,
)
from domain.ids import stock_item_id
from domain.tracing import Trace, TracedAggregate

MAX_QUANTITY = 1_000
MAX_LINES = 50
MAX_RESTOCK_QUANTITY = 100_000
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_sku(sku: str) -> str:
    if not isinstance(sku, str) or not SKU_PATTERN.fullmatch(sku):
        raise InvalidSkuError(f"SKU must be 1-64 letters, digits, '.', '_' or '-', got {sku!r}")
    return sku


def check_quantity(quantity: int, maximum: int = MAX_QUANTITY) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidQuantityError(f"quantity must be a whole number, got {quantity!r}")
    if not 0 < quantity <= maximum:
        raise InvalidQuantityError(f"quantity must be between 1 and {maximum}, got {quantity}")
    return quantity


def check_line_count(count: int, what: str) -> None:
    if not count:
        raise EmptyOrderError(f"{what} needs at least one line")
    if count > MAX_LINES:
        raise TooManyLinesError(f"{what} has at most {MAX_LINES} lines, got {count}")


@dataclass(frozen=True, kw_only=True)
class RestockSku(Command):
    sku: str
    quantity: int
    tenant_id: str = ""  # whose stock; empty for callers in process, as on PlaceOrder


@dataclass(frozen=True, kw_only=True)
class ReserveStock(Command):
    """Reserve every line of one order, all or nothing, from its tenant's stock."""

    order_id: UUID
    lines: tuple[tuple[str, int], ...]
    tenant_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ReleaseStock(Command):
    order_id: UUID
    skus: tuple[str, ...]
    tenant_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ShipStock(Command):
    order_id: UUID
    skus: tuple[str, ...]
    tenant_id: str = ""


def _owned_by_no_tenant(state: dict[str, Any]) -> None:
    """An event stored before tenants owned stock belongs to the in-process tenant, whose
    stock items kept their ids."""
    state["tenant_id"] = ""


class StockItem(TracedAggregate):
    natural_key = "sku"

    class Event(TracedAggregate.Event):
        class_version = 2
        upcast_v1_v2 = staticmethod(_owned_by_no_tenant)
        sku: str
        tenant_id: str

    class Registered(Event, TracedAggregate.Created):
        TOPIC = "StockItemRegistered.v1"

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

    def __init__(self, sku: str, tenant_id: str) -> None:
        self.sku = sku
        self.tenant_id = tenant_id
        self.available = 0
        self.restocked = 0
        self.shipped = 0
        self.reservations: dict[str, int] = {}  # of the orders still open

    @classmethod
    def register(cls, sku: str, trace: Trace, tenant_id: str = "") -> "StockItem":
        item_id = stock_item_id(check_sku(sku), tenant_id)
        return cls._start(cls.Registered, item_id, trace, sku=sku, tenant_id=tenant_id)

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    def restock(self, quantity: int, trace: Trace) -> None:
        self._record(self.Restocked, trace, quantity=check_quantity(quantity, MAX_RESTOCK_QUANTITY))

    def reserve(self, order_id: UUID, quantity: int, trace: Trace) -> None:
        """Hold `quantity` for the order; a second reservation while it holds one is a no-op."""
        check_quantity(quantity)
        key = str(order_id)
        if key in self.reservations:
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
        if key not in self.reservations:
            raise StockStateError(f"{self.sku}: order {order_id} holds no reservation to ship")
        self._record(self.Shipped, trace, order_id=key, quantity=self.reservations[key])

    def _record(self, event_class: type[Any], trace: Trace, **fields: Any) -> None:
        """Every event names the tenant as well as the SKU: the two together say whose stock."""
        super()._record(event_class, trace, tenant_id=self.tenant_id, **fields)
