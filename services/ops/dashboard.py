"""The live dashboard's reads on PostgreSQL (`Tables` of services/api/dashboard.py), which
`orders api` wires in. An operator's tool, like `orders check`: it reads the tables of several
layers - the order_summary read model, the dead letters every consumer shares, the relays'
positions, the orders' command log and the reconcile command's runs.

Every query is bounded in what it returns, and the two that count (orders by status, and
the placements of the last minutes, from the command log's `recorded_at`) scan their table;
the dashboard runs them at most once a second per API process, however many pages are open.
A table that does not exist yet reads as empty, and a reconciliation table that does not
exist as a reconciliation that never ran (`orders reconcile` writes a row per finished run,
services/ops/reconcile/runs.py). Connections come from a small pool of their own, waited for
briefly (a dashboard must not queue behind the requests that place orders), and none is kept
while no page is open (after a minute idle).
"""

from collections.abc import Sequence
from typing import Any

from psycopg import errors
from psycopg.rows import dict_row

from domain.orders import PlaceOrder
from infrastructure.database import pool
from infrastructure.settings import Settings
from projections.dead_letters import OPEN
from services.api.dashboard import DeadLetter, DeadLetters, Reconciliation

WAIT_S = 2.0  # for a pooled connection
ERROR_CHARS = 300  # of a dead letter's error, enough to say what it is
BY_STATUS = "SELECT status, count(*) FROM order_summary WHERE status IS NOT NULL GROUP BY status"
POSITIONS = "SELECT context, position FROM relay_positions"
# The orders context's command log (infrastructure/command_log.py: `<context>_commands`).
PLACEMENTS = (
    "SELECT floor(extract(epoch FROM now() - recorded_at) / %(bucket)s)::int AS ago, count(*)"
    " FROM orders_commands WHERE command_type = %(type)s AND outcome ? 'result'"
    " AND recorded_at > now() - make_interval(secs => %(window)s) GROUP BY ago"
)
DEAD_LETTERS = (
    "SELECT id, projection AS consumer, aggregate_id, version, left(error, %(chars)s) AS error, status,"
    " dead_lettered_at AS at FROM projection_dead_letters ORDER BY id DESC LIMIT %(limit)s"
)
RECONCILIATION = (
    "SELECT run_id::text, started_at, finished_at, differences, by_kind, repaired"
    " FROM reconciliation_runs ORDER BY finished_at DESC LIMIT 1"
)


class PostgresTables:
    def __init__(self, settings: Settings) -> None:
        self._pool = pool(settings, max_connections=2, min_connections=0)

    def orders_by_status(self) -> dict[str, int]:
        return dict(self._rows(BY_STATUS))

    def placements(self, window_s: int, bucket_s: int) -> list[int]:
        buckets = window_s // bucket_s
        params = {"bucket": bucket_s, "window": window_s, "type": PlaceOrder.__name__}
        counts = dict(self._rows(PLACEMENTS, params))
        return [counts.get(ago, 0) for ago in reversed(range(buckets))]

    def relay_positions(self) -> dict[str, int]:
        return dict(self._rows(POSITIONS))

    def dead_letters(self, limit: int) -> DeadLetters:
        recent = self._rows(DEAD_LETTERS, {"chars": ERROR_CHARS, "limit": limit}, as_dict=True)
        opened = self._rows("SELECT count(*) FROM projection_dead_letters WHERE status = %s", (OPEN,))
        return DeadLetters(
            open=opened[0][0] if opened else 0, recent=[DeadLetter.model_validate(row) for row in recent]
        )

    def latest_reconciliation(self) -> Reconciliation | None:
        rows = self._rows(RECONCILIATION, as_dict=True)
        return Reconciliation.model_validate(rows[0]) if rows else None

    def close(self) -> None:
        self._pool.close()

    def _rows(self, query: str, params: Any = None, *, as_dict: bool = False) -> Sequence[Any]:
        """The query's rows; none if a table it reads does not exist (yet)."""
        with self._pool.connection(timeout=WAIT_S) as conn:
            try:
                with conn.cursor(row_factory=dict_row) if as_dict else conn.cursor() as cursor:
                    return cursor.execute(query, params).fetchall()
            except errors.UndefinedTable:
                return []
