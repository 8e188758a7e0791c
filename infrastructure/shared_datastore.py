"""One connection pool per process for all the contexts that use the same server and schema.

The eventsourcing library gives every application a pool of its own, so a process that
builds the four contexts kept four pools open, and `orders run`'s dozen processes held more
idle connections than a default PostgreSQL server allows (100). The contexts of a process
take turns on the connections anyway; here they share one pool, kept while any of them is
open and closed with the last.
"""

import threading
from collections.abc import Hashable

from eventsourcing.postgres import PostgresDatastore

_lock = threading.Lock()
_shared: dict[Hashable, tuple[PostgresDatastore, int]] = {}


def acquire(key: Hashable, made: PostgresDatastore) -> PostgresDatastore:
    """The process's datastore for `key`: the one already shared, or `made`, shared from now."""
    with _lock:
        datastore, users = _shared.get(key, (made, 0))
        _shared[key] = (datastore, users + 1)
        return datastore


def release(key: Hashable) -> None:
    """One user fewer; the last one closes the pool."""
    with _lock:
        datastore, users = _shared[key]
        if users > 1:
            _shared[key] = (datastore, users - 1)
            return
        del _shared[key]
    datastore.close()
