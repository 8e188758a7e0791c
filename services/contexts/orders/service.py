"""The orders context: each order's lifecycle, driven by clients and by the saga."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.errors import OrderExistsError, OrderStateError, UnknownOrderError
from domain.orders import (
    AdvanceOrder,
    CancelOrder,
    FailOrder,
    Order,
    OrderStatus,
    PlaceOrder,
    RecordCompensation,
)
from domain.privacy import Vault
from services.application import Decision, Handler
from services.context import ContextApplication


class OrdersService(ContextApplication):
    name = "Orders"

    def __init__(
        self, is_known_sku: Callable[[str, str], bool], vault: Vault, env: dict[str, Any] | None = None
    ) -> None:
        """`is_known_sku(sku, tenant_id)` is the inventory context's catalogue check, passed in,
        not imported: an order may name only the SKUs its own tenant stocks;
        `vault` seals each order's personal data under its customer's key."""
        super().__init__(env)
        self.is_known_sku = is_known_sku
        self.vault = vault

    def handlers(self) -> dict[type, Handler]:
        return {
            PlaceOrder: self.place,
            CancelOrder: self.cancel,
            AdvanceOrder: self.advance,
            FailOrder: self.fail,
            RecordCompensation: self.record_compensation,
        }

    def place(self, command: PlaceOrder) -> Decision:
        # Saving would collide on version 1 forever; refuse by name instead of retrying.
        if self.recorder.select_events(command.order_id, limit=1):
            raise OrderExistsError(f"order {command.order_id} was already placed by another command")
        order = Order.place(command, lambda sku: self.is_known_sku(sku, command.tenant_id), self.vault)
        return self._decided(order)

    def cancel(self, command: CancelOrder) -> Decision:
        order = self.order(command.order_id)
        order.cancel(command.reason, command.trace)
        return self._decided(order)

    def advance(self, command: AdvanceOrder) -> Decision:
        order = self.order(command.order_id)
        steps: dict[OrderStatus, Callable[[], None]] = {
            OrderStatus.RESERVED: lambda: order.confirm_stock_reserved(command.trace),
            OrderStatus.PAID: lambda: order.confirm_payment_authorized(command.trace),
            OrderStatus.FULFILLING: lambda: order.request_fulfillment(command.trace),
            OrderStatus.SHIPPED: lambda: order.confirm_shipped(command.tracking_id, command.trace),
            OrderStatus.COMPLETED: lambda: order.complete(command.trace),
        }
        if command.step not in steps:
            raise OrderStateError(f"{command.step} is not a step an order advances to")
        steps[command.step]()
        return self._decided(order)

    def fail(self, command: FailOrder) -> Decision:
        order = self.order(command.order_id)
        order.fail(command.reason, command.trace)
        return self._decided(order)

    def record_compensation(self, command: RecordCompensation) -> Decision:
        order = self.order(command.order_id)
        order.record_compensation(command.step, command.trace)
        return self._decided(order)

    def order(self, order_id: UUID) -> Order:
        return self.load(order_id, Order, UnknownOrderError)

    @staticmethod
    def _decided(order: Order) -> Decision:
        result = {"order_id": str(order.id), "status": order.status.value, "total_cents": order.total.cents}
        return Decision([order], result)
