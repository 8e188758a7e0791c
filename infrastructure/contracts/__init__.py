"""The published language: integration events per context and the one mapping per context
from domain events to them. Pure schemas and functions, no I/O: the relay, the projections
and the saga all speak it.

Each context's module (`orders`, `inventory`, ...) declares its payloads, its `MAPPING` and
its `PUBLISHED` half (`language.PublishedContext`). The set of contexts is not listed here:
`services/registry.py` declares it, once, for every consumer."""

from infrastructure.contracts.envelope import IntegrationEvent, Payload, UnknownEventTypeError
from infrastructure.contracts.language import (
    PublishedContext,
    UnknownContextError,
    to_integration_event,
    topic,
)

__all__ = [
    "IntegrationEvent",
    "Payload",
    "PublishedContext",
    "UnknownContextError",
    "UnknownEventTypeError",
    "to_integration_event",
    "topic",
]
