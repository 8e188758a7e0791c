"""The workers' side of a context's call table on PostgreSQL: claim, retry, park."""

from dataclasses import dataclass
from datetime import datetime

from eventsourcing.postgres import PostgresDatastore

from domain.calls import Call
from infrastructure.calls.table import CallTable, call_of


@dataclass(frozen=True)
class ParkedCall:
    """A call that cannot succeed as asked, and why: an operator retries or fixes it."""

    call: Call
    error: str
    parked_at: datetime


class PostgresCallQueue:
    def __init__(self, datastore: PostgresDatastore, table: CallTable) -> None:
        self.datastore = datastore
        self.table = table

    @property
    def channel(self) -> str:
        """Where a commit that adds calls sends its NOTIFY: a hint to claim now."""
        return self.table.channel

    def claim(self, limit: int, lease_s: float) -> list[Call]:
        """Up to `limit` due calls, each leased to the caller for `lease_s` seconds; no other
        worker gets them meanwhile. `Call.attempts` counts this attempt."""
        with self.datastore.get_connection() as conn:
            return [call_of(row) for row in conn.execute(self.table.claim, (lease_s, limit)).fetchall()]

    def retry(self, call_id: str, delay_s: float, error: str) -> None:
        """Release the lease and make the call due again after `delay_s`."""
        self._execute(self.table.retry, (delay_s, error[:2000], call_id))

    def park(self, call_id: str, error: str) -> None:
        """Stop trying: the call is refused for a reason asking again cannot change."""
        self._execute(self.table.park, (error[:2000], call_id))

    def unpark(self, call_id: str) -> bool:
        """Make a parked call due again, from its first attempt; False if none is parked."""
        with self.datastore.get_connection() as conn:
            return conn.execute(self.table.unpark, (call_id,)).fetchone() is not None

    def pending(self) -> int:
        """Calls decided and not yet answered or parked."""
        with self.datastore.get_connection() as conn:
            row = conn.execute(self.table.pending).fetchone()
        return int(row["count"]) if row else 0

    def parked(self) -> list[ParkedCall]:
        with self.datastore.get_connection() as conn:
            rows = conn.execute(self.table.parked).fetchall()
        return [ParkedCall(call_of(row), row["last_error"], row["done_at"]) for row in rows]

    def _execute(self, query: object, params: tuple[object, ...]) -> None:
        with self.datastore.get_connection() as conn:
            conn.execute(query, params)  # type: ignore[call-overload]
