"""Where this run's PostgreSQL backends spend a measurement, sampled from pg_stat_activity.

Every connection the run opens carries its application name (PGAPPNAME, which libpq reads
for psycopg's connections and the library's pools alike), so the sampler sees only this
run's backends, whoever else uses the server. Each sample files every backend that is in a
statement or a transaction under what it is doing at that instant (idle connections are
left out: the pools keep spares):

- `running`: executing a statement, on the CPU or about to be;
- `lock: relation`, `lock: transactionid`, ...: waiting for a heavyweight lock, such as the
  events table's EXCLUSIVE lock that every save takes;
- `io: WALSync`, `lwlock: WALWrite`, ...: waiting for the disk, such as a commit's flush;
- `client, in transaction`: a transaction open, waiting for the client's next statement
  (a round trip, or the client's own work, inside the transaction).

As shares of those samples: a ratio that falls short because the server waits for the
client shows as `client`, one limited by the server as `running`, `lock` or `io`.
"""

import threading
from collections import Counter
from typing import Any

import psycopg

EVERY_S = 0.02
SAMPLE = """
SELECT wait_event_type, wait_event FROM pg_stat_activity
WHERE application_name = current_setting('application_name') AND pid <> pg_backend_pid()
  AND state <> 'idle'"""


class Waits:
    """Samples taken while the block runs, in a thread with a connection of its own."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-waits", daemon=True)

    def __enter__(self) -> "Waits":
        self._conn = psycopg.connect(self.database_url, autocommit=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()

    def shares(self) -> dict[str, float]:
        return percent(self.seen)

    def _sample(self) -> None:
        while not self._stop.wait(EVERY_S):
            self.seen.update(_kind(*row) for row in self._conn.execute(SAMPLE).fetchall())


def percent(seen: Counter[str]) -> dict[str, float]:
    """Percent of the samples per kind, most first."""
    total = sum(seen.values())
    return {kind: round(100 * n / total, 1) for kind, n in seen.most_common()} if total else {}


def _kind(wait_type: Any, wait_event: Any) -> str:
    if wait_type == "Client":
        return "client, in transaction"
    if wait_type is None:
        return "running"
    return f"{str(wait_type).lower()}: {wait_event}"
