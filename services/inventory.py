"""The inventory context: stock per SKU, reserved and shipped per order."""

from collections.abc import Callable

from domain.errors import DuplicateSkuError, EmptyOrderError, UnknownSkuError
from domain.ids import stock_item_id
from domain.inventory import ReleaseStock, ReserveStock, RestockSku, ShipStock, StockItem, check_sku
from services.application import Decision, Handler
from services.context import ContextApplication


class InventoryService(ContextApplication):
    name = "Inventory"

    def handlers(self) -> dict[type, Handler]:
        return {
            RestockSku: self.restock,
            ReserveStock: self.reserve,
            ReleaseStock: self.release,
            ShipStock: self.ship,
        }

    def restock(self, command: RestockSku) -> Decision:
        item = self._find(command.sku) or StockItem.register(command.sku, command.trace)
        item.restock(command.quantity, command.trace)
        return Decision([item], {"sku": item.sku, "available": item.available})

    def reserve(self, command: ReserveStock) -> Decision:
        """All lines or none: every stock item is checked before any event is saved."""
        if not command.lines:
            raise EmptyOrderError("nothing to reserve")
        items = self._stock_items(tuple(sku for sku, _ in command.lines))
        for item, (_, quantity) in zip(items, command.lines, strict=True):
            item.reserve(command.order_id, quantity, command.trace)
        return Decision(
            items, {"order_id": str(command.order_id), "reserved": [list(line) for line in command.lines]}
        )

    def release(self, command: ReleaseStock) -> Decision:
        return self._for_each(command.skus, lambda item: item.release(command.order_id, command.trace))

    def ship(self, command: ShipStock) -> Decision:
        return self._for_each(command.skus, lambda item: item.ship(command.order_id, command.trace))

    def stock_item(self, sku: str) -> StockItem:
        return self.load(stock_item_id(check_sku(sku)), StockItem, UnknownSkuError)

    def is_known_sku(self, sku: str) -> bool:
        return bool(self.recorder.select_events(stock_item_id(check_sku(sku)), limit=1))

    def _find(self, sku: str) -> StockItem | None:
        try:
            return self.load(stock_item_id(check_sku(sku)), StockItem, UnknownSkuError)
        except UnknownSkuError:
            return None

    def _stock_items(self, skus: tuple[str, ...]) -> list[StockItem]:
        """Each SKU once: the same item loaded twice would collide with itself when saved."""
        if len(set(skus)) != len(skus):
            raise DuplicateSkuError(f"each SKU may appear once per command, got {list(skus)}")
        return [self.stock_item(sku) for sku in skus]

    def _for_each(self, skus: tuple[str, ...], change: Callable[[StockItem], None]) -> Decision:
        items = self._stock_items(skus)
        for item in items:
            change(item)
        return Decision(items, {"skus": list(skus)})
