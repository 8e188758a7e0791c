"""The published language: integration events per context and the one mapping per context
from domain events to them. Pure schemas and functions, no I/O: the relay, the projections
and the saga all speak it."""

from collections.abc import Callable
from typing import Any

from domain.ids import event_id
from infrastructure.contracts import fulfillment, inventory, orders, payments
from infrastructure.contracts.envelope import IntegrationEvent, Payload, UnknownEventTypeError

CONTEXTS = ("orders", "inventory", "payments", "fulfillment")
TOPICS = {context: f"{context}.events" for context in CONTEXTS}
MAPPINGS: dict[str, dict[type, Callable[[Any], Payload]]] = {
    "orders": orders.MAPPING,
    "inventory": inventory.MAPPING,
    "payments": payments.MAPPING,
    "fulfillment": fulfillment.MAPPING,
}


def to_integration_event(context: str, domain_event: Any, notification_id: int) -> IntegrationEvent:
    """The published form of one stored domain event of `context`."""
    payload = MAPPINGS[context][type(domain_event)](domain_event)
    return IntegrationEvent(
        context=context,
        event_id=event_id(domain_event.originator_id, domain_event.originator_version),
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        aggregate_id=domain_event.originator_id,
        aggregate_version=domain_event.originator_version,
        notification_id=notification_id,
        occurred_at=domain_event.timestamp,
        command_id=domain_event.command_id,
        correlation_id=domain_event.correlation_id,
        causation_id=domain_event.causation_id,
        data=payload.model_dump(mode="json"),
    )


__all__ = [
    "CONTEXTS",
    "TOPICS",
    "IntegrationEvent",
    "Payload",
    "UnknownEventTypeError",
    "to_integration_event",
]
