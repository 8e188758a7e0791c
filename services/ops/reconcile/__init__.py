"""`orders reconcile`: the system's records against what they should be, repaired where the
right answer can be derived, reported to a person where it cannot.

Three comparisons, each a module: every read model against a fold of the events it consumed
(`read_models.py`, after waiting for the projectors to reach the topics' ends,
`consumption.py`); the payments store against the provider's webhooks and ledger
(`payments.py`); the shipments against the carrier's bookings (`shipments.py`). Each
difference names its kind, its ids and its fix (`differences.py`); `--repair` applies the
fixes (`repairs.py`), and every run is recorded, counted and logged (`runs.py`).

It reads what the stores hold, never what the processes say, and it reuses the invariant
check's readers and fold (`services/ops/check/`). Its order of work keeps a fault from
leaving anything behind: the database is asked first, then the broker; only when both have
answered are the stores read, the fixes applied and the run recorded. A server that does not
answer ends the run with an error, before any repair and without a run row.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.conninfo import conninfo_to_dict

from infrastructure.database import connect
from infrastructure.settings import Settings
from services.bootstrap import Metrics, build
from services.ops.check import events_tables
from services.ops.check.invariants import fold
from services.ops.reconcile import payments, read_models, runs, shipments
from services.ops.reconcile.consumption import BrokerUnavailableError, wait_until_consumed
from services.ops.reconcile.differences import Outcome, Run
from services.ops.reconcile.repairs import repair_all

__all__ = ["BrokerUnavailableError", "DatabaseUnavailableError", "Options", "Run", "reconcile"]

CONNECT_TIMEOUT_S = 10


class DatabaseUnavailableError(Exception):
    """The database did not answer; the message says where and how long it was waited for."""


@dataclass(frozen=True)
class Options:
    repair: bool = False  # apply the fixes
    timeout_s: float = 30.0  # the longest wait for the projectors to reach the topics' ends
    grace_s: float = 60.0  # a record younger than this may be in flight: no difference in it counts yet


def reconcile(
    settings: Settings, options: Options, say: Callable[[str], None] = print, metrics: Metrics | None = None
) -> Run:
    """One run: compare, repair if asked, record; `metrics` to set, by default the process's.
    Raises DatabaseUnavailableError or BrokerUnavailableError, having written nothing, when a
    server does not answer."""
    started_at = database_now(settings)
    consumption = wait_until_consumed(settings, options.timeout_s, say)
    system = build(settings, metrics=metrics)
    try:
        logs = dict(system.apps)
        holdings = fold(settings, system, events_tables(system))
        with connect(settings) as conn:
            webhooks = payments.received(conn)
        grace = timedelta(seconds=options.grace_s)
        compared = [
            read_models.compare(settings, logs, consumption),
            payments.compare(holdings, webhooks, system.payments, started_at, grace),
            shipments.compare(holdings, started_at, grace),
        ]
        found = [difference for comparison in compared for difference in comparison.differences]
        outcomes = (
            repair_all(found, settings, logs, system.payments)
            if options.repair
            else list(map(Outcome, found))
        )
        run = Run(
            uuid.uuid4(),
            started_at,
            database_now(settings),
            outcomes,
            {comparison.what: comparison.count for comparison in compared},
            [comparison.note for comparison in compared if comparison.note],
        )
        runs.record(settings, run)
        runs.publish(run, system.metrics)
        return run
    finally:
        system.close()


def database_now(settings: Settings) -> datetime:
    """The database's clock, which stamps the webhooks and the ledgers' rows: ages are read
    against it. The first question of a run, so an unreachable database ends it at once."""
    started = time.monotonic()
    try:
        with psycopg.connect(settings.database_url or "", connect_timeout=CONNECT_TIMEOUT_S) as conn:
            row = conn.execute("SELECT now()").fetchone()
    except psycopg.OperationalError as error:
        params = conninfo_to_dict(settings.database_url or "")
        where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
        raise DatabaseUnavailableError(
            f"the database at {where} could not be reached ({' '.join(str(error).split())});"
            f" gave up after {time.monotonic() - started:.1f}s"
        ) from None
    assert row is not None
    now: datetime = row[0]
    return now
