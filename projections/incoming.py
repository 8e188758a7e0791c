"""What a projection is fed: the bytes of one published event and where they came from.

Records from Kafka and events read back from the event store take the same path: a stored
event is encoded exactly as the relay publishes it and decoded again, so a rebuild from the
store runs the very code a live projector runs, and the two cannot drift apart.
"""

import json
from dataclasses import dataclass
from uuid import UUID

from infrastructure.consuming import Delivery
from infrastructure.contracts import IntegrationEvent

# The versions an event can have: from 1, and no more than the bookkeeping's integer
# columns hold. A version outside them cannot be recorded, so its record is poison.
VERSIONS = range(1, 2**31)


@dataclass(frozen=True)
class Identity:
    """Which aggregate a record belongs to and its version, as far as they can be read."""

    aggregate_id: UUID | None
    version: int | None


@dataclass(frozen=True)
class Incoming:
    value: bytes
    key: bytes | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @classmethod
    def delivered(cls, delivery: Delivery) -> "Incoming":
        return cls(delivery.value, delivery.key, delivery.topic, delivery.partition, delivery.offset)

    @classmethod
    def stored(cls, event: IntegrationEvent) -> "Incoming":
        return cls(event.to_bytes(), event.key)

    def event(self) -> IntegrationEvent:
        """The decoded envelope; raises on a record that is not one (a poison record)."""
        event = IntegrationEvent.from_bytes(self.value)
        if event.aggregate_version not in VERSIONS:
            raise ValueError(
                f"aggregate_version {event.aggregate_version} is not in {VERSIONS[0]}..{VERSIONS[-1]}"
            )
        return event

    @property
    def location(self) -> tuple[str | None, int | None, int | None]:
        """(topic, partition, offset); all None for an event read from the event store."""
        return self.topic, self.partition, self.offset

    @property
    def source(self) -> str:
        if self.topic is None:
            return "event store"
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def salvage_identity(self) -> Identity:
        """Best effort for a record that failed to decode: its ids, read leniently from the
        JSON, else the aggregate id from the Kafka key (the relay keys by aggregate id).
        Used only to hold the aggregate's later events back, never to apply anything."""
        fields = _json_object(self.value)
        aggregate_id = _uuid(fields.get("aggregate_id")) or _uuid(self.key)
        version = fields.get("aggregate_version")
        if aggregate_id is None or not isinstance(version, int) or isinstance(version, bool):
            return Identity(aggregate_id, None)
        return Identity(aggregate_id, version if version in VERSIONS else None)


def _json_object(value: bytes) -> dict[str, object]:
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _uuid(value: object) -> UUID | None:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None
