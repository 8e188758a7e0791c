"""The base every bounded context's application extends."""

from typing import ClassVar
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.persistence import JSONTranscoder

from services.application import IdempotentApplication
from services.repository import SharedCacheRepository
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

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository with its cache made safe to share between threads."""
        return SharedCacheRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(self.env.get(self.AGGREGATE_CACHE_MAXSIZE) or 0) or None,
            fastforward=True,
            deepcopy_from_cache=True,
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)
