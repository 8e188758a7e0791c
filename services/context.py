"""The base every bounded context's application extends."""

from typing import ClassVar

from eventsourcing.persistence import JSONTranscoder

from services.application import IdempotentApplication
from services.transcodings import register_value_objects


class ContextApplication(IdempotentApplication):
    """One bounded context: its own `<name>_events` and `<name>_commands` tables and its own
    notification log (the outbox its relay follows)."""

    env: ClassVar[dict[str, str]] = {
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Hot aggregates (one SKU, many orders) would otherwise be replayed from their first
        # event on every command. Cached copies are fast-forwarded with the newer events
        # before use and handed out as deep copies; a stale copy cannot slip through, since
        # saving still checks the version.
        "AGGREGATE_CACHE_MAXSIZE": "10000",
    }

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)
