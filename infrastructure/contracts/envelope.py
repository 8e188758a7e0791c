"""The wire format every context publishes: an envelope around a versioned payload.

Domain events are internal and may change shape with the model; integration events are a
published contract. Each payload class has an explicit `event_type` and `schema_version`,
and consumers validate what they read against the class registered for that pair.
"""

import json
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

CONTENT_TYPE = "application/json"
# What an event says about where it comes from: the ids a consumer's log lines carry while it
# handles the event, each also a header of its record.
TRACE_IDS = ("event_id", "command_id", "correlation_id", "causation_id")


class Payload(BaseModel):
    """Base of every integration event's data."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    registry: ClassVar[dict[tuple[str, int], type["Payload"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            key = (cls.event_type, cls.schema_version)
            assert key not in Payload.registry, f"{key} is published twice"
            Payload.registry[key] = cls


class UnknownEventTypeError(ValueError):
    """No payload class is registered for this event type and version: a poison message."""


class IntegrationEvent(BaseModel):
    """One published event. `event_id` is "<aggregate id>:<aggregate version>"."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    context: str
    event_id: str
    event_type: str
    schema_version: int
    aggregate_id: UUID
    aggregate_version: int
    notification_id: int
    occurred_at: datetime
    command_id: str
    correlation_id: str
    causation_id: str
    data: dict[str, Any]

    @property
    def key(self) -> bytes:
        """Kafka key: all events of one aggregate share a partition, so stay in order."""
        return str(self.aggregate_id).encode()

    def payload(self) -> Payload:
        """The data, validated against its registered schema."""
        cls = Payload.registry.get((self.event_type, self.schema_version))
        if cls is None:
            raise UnknownEventTypeError(f"{self.event_type} v{self.schema_version} is not a known event")
        return cls.model_validate(self.data)

    def trace_ids(self) -> dict[str, str]:
        """Its ids by the names of its headers, as log lines carry them."""
        return {name: getattr(self, name) for name in TRACE_IDS}

    def headers(self) -> list[tuple[str, bytes]]:
        names = (
            "event_id",
            "event_type",
            "schema_version",
            "aggregate_id",
            "aggregate_version",
            "notification_id",
            "command_id",
            "correlation_id",
            "causation_id",
            "occurred_at",
        )
        fields = self.model_dump(mode="json", include=set(names))
        return [(name, str(fields[name]).encode()) for name in names] + [
            ("content_type", CONTENT_TYPE.encode())
        ]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, value: bytes) -> "IntegrationEvent":
        return cls.model_validate(json.loads(value))
