"""The inventory context: each tenant's stock of each SKU, reserved, released and shipped."""

from infrastructure.contracts import inventory as contract
from services.context import Context
from services.contexts.inventory.service import InventoryService
from services.saga import compensation, forward

CONTEXT = Context(
    published=contract.PUBLISHED,
    application=InventoryService,
    build=lambda wiring: InventoryService(env=wiring.env),
    reactions=forward.INVENTORY,
    undo=compensation.INVENTORY_UNDO,
)
