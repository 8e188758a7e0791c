"""Deterministic ids.

"The payment of order O" always has the same id, so a replayed create collides with the
first one on (originator_id, version 1) instead of creating a second aggregate.
Command ids that the system issues itself derive from the event that caused them, so a
redelivered event issues the same command id and the command log answers it.
"""

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c1f0e-3b7a-5f43-9a53-8d1c0f0a2b71")


def stock_item_id(sku: str, tenant_id: str = "") -> UUID:
    """A tenant's stock of one SKU. The in-process tenant ("") keeps the ids stock items had
    before tenants owned stock, so those are still found (a SKU never holds a ':')."""
    return uuid5(NAMESPACE, f"stock-item:{tenant_id}:{sku}" if tenant_id else f"stock-item:{sku}")


def payment_id(order_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"payment:{order_id}")


def shipment_id(order_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"shipment:{order_id}")


def caused_command_id(causing_event_id: str, command_type: str) -> str:
    """The command id for the command that an event causes: same event, same id."""
    return str(uuid5(NAMESPACE, f"command:{causing_event_id}:{command_type}"))


def event_id(originator_id: UUID, originator_version: int) -> str:
    """An event is identified by its position in its aggregate's sequence."""
    return f"{originator_id}:{originator_version}"
