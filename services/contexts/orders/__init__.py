"""The orders context: customers place and cancel orders, and the saga moves them along."""

from infrastructure.contracts import orders as contract
from services.context import Context, Wiring
from services.contexts.inventory.service import InventoryService
from services.contexts.orders.service import OrdersService
from services.saga import forward


def _build(wiring: Wiring) -> OrdersService:
    inventory = wiring.app("inventory", InventoryService)
    return OrdersService(is_known_sku=inventory.is_known_sku, vault=wiring.vault, env=wiring.env)


CONTEXT = Context(
    published=contract.PUBLISHED,
    application=OrdersService,
    build=_build,
    needs=("inventory",),  # the catalogue check, passed in rather than imported
    reactions=forward.ORDERS,
)
