"""Where a run is told: a row in `reconciliation_runs` (the live dashboard reads the latest),
the gauge `orders_reconciliation_differences{kind}`, and one log line per difference.

The row counts what was found, per kind and in all, and how much of it was repaired. The
gauge holds what the run left different, per kind, every kind set (0 where none): a
difference repaired on the spot pages nobody, one left for a person raises the alert
`ReconciliationDifference` until a later run finds it gone.
"""

import logging

from psycopg.types.json import Jsonb

from infrastructure.database import DDL_LOCK_KEY, connect, ensure_schema
from infrastructure.metrics import Metrics
from infrastructure.settings import Settings
from services.ops.reconcile.differences import Run

log = logging.getLogger(__name__)

DDL = (
    "CREATE TABLE IF NOT EXISTS reconciliation_runs ("
    " run_id uuid PRIMARY KEY, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL,"
    " differences integer NOT NULL, by_kind jsonb NOT NULL, repaired integer NOT NULL)",
    "CREATE INDEX IF NOT EXISTS reconciliation_runs_finished_at ON reconciliation_runs (finished_at)",
)
INSERT = (
    "INSERT INTO reconciliation_runs (run_id, started_at, finished_at, differences, by_kind, repaired)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)


def record(settings: Settings, run: Run) -> None:
    """Add the run's row, creating the table first if need be (under the lock that keeps
    concurrent CREATE ... IF NOT EXISTS from colliding)."""
    ensure_schema(settings)
    with connect(settings) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
        for statement in DDL:
            conn.execute(statement)
        row = (run.run_id, run.started_at, run.finished_at, run.found, Jsonb(run.by_kind()), run.repaired)
        conn.execute(INSERT, row)


def publish(run: Run, metrics: Metrics) -> None:
    """Set the gauge to what remains, per kind, and log each difference with its ids: a
    warning while it remains, information once repaired."""
    for kind, remaining in run.by_kind(remaining_only=True).items():
        metrics.reconciliation_differences.labels(kind=kind).set(remaining)
    for outcome in run.outcomes:
        d = outcome.difference
        log.log(
            logging.INFO if outcome.repaired else logging.WARNING,
            "reconciliation found a %s difference: %s",
            d.kind,
            d.what,
            extra={
                "run_id": str(run.run_id),
                "kind": d.kind,
                **d.ids,
                "repairable": d.repairable,
                "repaired": outcome.repaired,
            },
        )
