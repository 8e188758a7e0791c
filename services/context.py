"""The base every bounded context's application extends."""

from typing import ClassVar

from eventsourcing.persistence import JSONTranscoder

from services.application import IdempotentApplication
from services.transcodings import register_value_objects


class ContextApplication(IdempotentApplication):
    """One bounded context: its own `<name>_events` and `<name>_commands` tables and its own
    notification log (the outbox its relay follows)."""

    env: ClassVar[dict[str, str]] = {"POSTGRES_LOCK_TIMEOUT": "5"}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)
