"""`orders check`: invariants I1-I6 verified from what the system stored, not from what its
processes say about themselves.

Everything is read afresh: the event stores (folded into aggregates), the payment
provider's own ledger, the read models and their bookkeeping, and every record of the
contexts' topics. The check is an operator's tool, like the command line: it composes the system
through the composition root and reads infrastructure directly.
"""

import time
from collections.abc import Callable
from typing import Any

from infrastructure.database import connect
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.ops.check import store
from services.ops.check.invariants import check_all
from services.ops.check.quiescence import Progress, read_progress, wait_until_quiescent
from services.ops.check.report import Finding, Report
from services.ops.check.topics import TopicScanner

__all__ = ["Finding", "Progress", "Report", "check_all", "run_check", "wait_until_quiescent"]


def run_check(settings: Settings, wait_s: float = 0.0, say: Callable[[str], None] = print) -> Report:
    """Wait up to `wait_s` for quiescence (not at all when 0), then check every invariant."""
    system = build(settings)
    scanner = TopicScanner(settings, system.registry.names)
    try:
        tables = events_tables(system)
        if wait_s > 0:
            quiescent, progress, waited = wait_until_quiescent(settings, tables, scanner, wait_s, say)
        else:
            started = time.monotonic()
            progress = read_progress(settings, tables, scanner)
            quiescent, waited = progress.settled, time.monotonic() - started
        findings = check_all(settings, system, tables, scanner)
        with connect(settings) as conn:
            stored = sum(sum(store.max_versions(conn, table).values()) for table in tables.values())
        return Report(findings, quiescent, str(progress), waited, stored, sum(scanner.seen.values()))
    finally:
        scanner.close()
        system.close()


def events_tables(system: System) -> dict[str, str]:
    """Each context's events table (the library names it after the application)."""
    recorders: dict[str, Any] = {name: app.recorder for name, app in system.apps.items()}
    return {name: recorder.events_table_name for name, recorder in recorders.items()}
