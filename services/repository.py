"""A repository whose cache is safe to share between threads.

eventsourcing 9.5.6's `Repository.get` fast-forwards a cached aggregate in place while
holding a per-aggregate lock, but deep-copies it only after releasing that lock. A second
thread's fast-forward can then change the aggregate mid-copy ("dictionary changed size
during iteration", seen with 8 threads reserving one SKU). Here the whole get runs under a
striped lock per aggregate id: gets of the same aggregate are serialised, others are not.
"""

import threading
from typing import Any
from uuid import UUID

from eventsourcing.application import Repository

STRIPES = 64


class SharedCacheRepository(Repository[UUID]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stripes = [threading.Lock() for _ in range(STRIPES)]

    def get(self, aggregate_id: UUID, **kwargs: Any) -> Any:
        with self._stripes[hash(aggregate_id) % STRIPES]:
            return super().get(aggregate_id, **kwargs)
