"""The inventory context: each tenant's stock per SKU, reserved and shipped per order.

A SKU lives as long as the shop and gathers events with every order, so its stock item is
snapshotted every SNAPSHOT_INTERVAL events: a load that misses the aggregate cache (a new
process, an evicted entry) starts from the latest snapshot and replays fewer than that many
events. The snapshots stay small because the item carries no per-order history
(`domain/inventory.py`).
"""

from collections.abc import Callable
from typing import Any, ClassVar

from domain.errors import DuplicateSkuError, UnknownSkuError
from domain.ids import stock_item_id
from domain.inventory import (
    ReleaseStock,
    ReserveStock,
    RestockSku,
    ShipStock,
    StockItem,
    check_line_count,
    check_sku,
)
from services.application import Decision, Handler
from services.context import ContextApplication

SNAPSHOT_INTERVAL = 100


class InventoryService(ContextApplication):
    name = "Inventory"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {StockItem: SNAPSHOT_INTERVAL}

    def handlers(self) -> dict[type, Handler]:
        return {
            RestockSku: self.restock,
            ReserveStock: self.reserve,
            ReleaseStock: self.release,
            ShipStock: self.ship,
        }

    def restock(self, command: RestockSku) -> Decision:
        item = self._find(command.sku, command.tenant_id) or StockItem.register(
            command.sku, command.trace, command.tenant_id
        )
        item.restock(command.quantity, command.trace)
        return Decision([item], {"sku": item.sku, "available": item.available})

    def reserve(self, command: ReserveStock) -> Decision:
        """All lines or none: every stock item is checked before any event is saved."""
        check_line_count(len(command.lines), "a reservation")
        items = self._stock_items(tuple(sku for sku, _ in command.lines), command.tenant_id)
        for item, (_, quantity) in zip(items, command.lines, strict=True):
            item.reserve(command.order_id, quantity, command.trace)
        return Decision(
            items, {"order_id": str(command.order_id), "reserved": [list(line) for line in command.lines]}
        )

    def release(self, command: ReleaseStock) -> Decision:
        return self._for_each(
            command.skus, command.tenant_id, lambda item: item.release(command.order_id, command.trace)
        )

    def ship(self, command: ShipStock) -> Decision:
        return self._for_each(
            command.skus, command.tenant_id, lambda item: item.ship(command.order_id, command.trace)
        )

    def stock_item(self, sku: str, tenant_id: str = "") -> StockItem:
        """The tenant's stock of `sku`; `UnknownSkuError` if the tenant never stocked it."""
        return self.load(stock_item_id(check_sku(sku), tenant_id), StockItem, UnknownSkuError)

    def is_known_sku(self, sku: str, tenant_id: str = "") -> bool:
        return bool(self.recorder.select_events(stock_item_id(check_sku(sku), tenant_id), limit=1))

    def _find(self, sku: str, tenant_id: str) -> StockItem | None:
        try:
            return self.stock_item(sku, tenant_id)
        except UnknownSkuError:
            return None

    def _stock_items(self, skus: tuple[str, ...], tenant_id: str) -> list[StockItem]:
        """Each SKU once: the same item loaded twice would collide with itself when saved."""
        if len(set(skus)) != len(skus):
            raise DuplicateSkuError(f"each SKU may appear once per command, got {list(skus)}")
        return [self.stock_item(sku, tenant_id) for sku in skus]

    def _for_each(
        self, skus: tuple[str, ...], tenant_id: str, change: Callable[[StockItem], None]
    ) -> Decision:
        items = self._stock_items(skus, tenant_id)
        for item in items:
            change(item)
        return Decision(items, {"skus": list(skus)})
