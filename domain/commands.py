"""The base of every command: an id that makes it idempotent, and the trace it starts."""

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from domain.errors import InvalidCommandError
from domain.tracing import Trace

_TRACE_FIELDS = {"command_id", "correlation_id", "causation_id"}
MAX_COMMAND_ID_LENGTH = 255


@dataclass(frozen=True, kw_only=True)
class Command:
    """A request to change state, applied at most once per `command_id`.

    The id is the client's idempotency key, or, for commands the system issues itself,
    derived from the event that caused it (`domain.ids.caused_command_id`).
    """

    command_id: str
    correlation_id: str = ""
    causation_id: str = ""

    def __post_init__(self) -> None:
        key = self.command_id
        if not isinstance(key, str) or not 0 < len(key) <= MAX_COMMAND_ID_LENGTH:
            raise InvalidCommandError(f"command_id must be 1-{MAX_COMMAND_ID_LENGTH} characters")
        if not key.isprintable() or not key.isascii():
            raise InvalidCommandError("command_id must be printable ASCII")

    @property
    def trace(self) -> Trace:
        return Trace(
            command_id=self.command_id,
            correlation_id=self.correlation_id or self.command_id,
            causation_id=self.causation_id or self.command_id,
        )

    def payload(self) -> dict[str, Any]:
        """What the command asks for, without its ids: the part a replay must repeat."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _TRACE_FIELDS}

    def fingerprint(self) -> str:
        """sha256 of the canonical payload: the same id with another payload is a misuse."""
        body = {k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in self.payload().items()}
        canonical = json.dumps([type(self).__name__, body], sort_keys=True, default=_plain)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)


@dataclass(frozen=True)
class CommandRecord:
    """What a command did, stored in the same transaction as its events.

    `outcome` is {"result": {...}} for an applied command or {"error": {"code", "message"}}
    for a refusal, so a replay answers exactly what the first attempt answered.
    """

    command_id: str
    command_type: str
    fingerprint: str
    outcome: dict[str, Any]
