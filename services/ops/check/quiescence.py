"""When is the system done? When nothing is left to do anywhere and nothing changes.

A reading is taken from PostgreSQL and Kafka, never from the processes: every stored event
is published (the relays' positions are at the end of the notification logs, and the
topics hold every event), the saga's consumer group has committed every record, no call to
the provider or the carrier is waiting for its answer, every projection has applied every
aggregate's latest version, and every order has a terminal event. The system is quiescent
when two readings in a row say so and the stores did not grow between them: an order that
has just stopped may still be compensated, and that shows as new events.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infrastructure.database import connect
from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS
from services.ops.check import store
from services.ops.check.topics import TopicScanner

POLL_S = 0.5
SAY_EVERY_S = 5.0


@dataclass(frozen=True)
class Progress:
    notifications: Mapping[str, int]  # context -> latest notification id
    relay_lag: int  # events stored but not past a relay's saved position
    unpublished: int  # stored events not found on their topic
    saga_lag: int  # records the saga's group has not committed
    calls_pending: int  # calls to the provider or the carrier not yet answered
    projections_behind: Mapping[str, int]  # projection -> aggregates not at their latest version
    in_flight: int  # orders without a terminal event

    @property
    def settled(self) -> bool:
        work = (self.relay_lag, self.unpublished, self.saga_lag, self.calls_pending, self.in_flight)
        return not any(work) and not any(self.projections_behind.values())

    def __str__(self) -> str:
        behind = sum(self.projections_behind.values())
        return (
            f"relay lag {self.relay_lag}, unpublished {self.unpublished}, saga lag {self.saga_lag},"
            f" calls pending {self.calls_pending}, projections behind {behind},"
            f" orders in flight {self.in_flight}"
        )


def read_progress(settings: Settings, tables: Mapping[str, str], scanner: TopicScanner) -> Progress:
    """One reading; `tables` maps each context to its events table."""
    scanner.catch_up()
    with connect(settings) as conn:
        versions = {context: store.max_versions(conn, table) for context, table in tables.items()}
        notifications = {context: store.max_notification_id(conn, table) for context, table in tables.items()}
        positions = store.relay_positions(conn)
        return Progress(
            notifications=notifications,
            relay_lag=sum(max(0, last - positions.get(c, 0)) for c, last in notifications.items()),
            unpublished=sum(len(unpublished(v, scanner)) for v in versions.values()),
            saga_lag=scanner.committed_lag("saga"),
            calls_pending=store.pending_calls(conn, [calls_table(table) for table in tables.values()]),
            projections_behind={
                name: len(
                    list(store.behind(expected(versions, p.contexts), store.applied_versions(conn, name)))
                )
                for name, p in PROJECTIONS.items()
            },
            in_flight=len(store.orders_in_flight(conn, tables["orders"])),
        )


def wait_until_quiescent(
    settings: Settings,
    tables: Mapping[str, str],
    scanner: TopicScanner,
    timeout_s: float,
    say: Callable[[str], None] = print,
) -> tuple[bool, Progress, float]:
    """Take readings until the system is quiescent or `timeout_s` has passed; returns
    whether it is, the last reading and the seconds waited."""
    started = last_said = time.monotonic()
    previous = read_progress(settings, tables, scanner)
    while True:
        waited = time.monotonic() - started
        if waited >= timeout_s:
            return False, previous, waited
        time.sleep(POLL_S)
        current = read_progress(settings, tables, scanner)
        if current.settled and previous.settled and current.notifications == previous.notifications:
            return True, current, time.monotonic() - started
        if time.monotonic() - last_said >= SAY_EVERY_S:
            say(f"  waiting for quiescence ({waited:.0f}s): {current}")
            last_said = time.monotonic()
        previous = current


def calls_table(events_table: str) -> str:
    """A context's calls table, named like its events table (`infrastructure/command_log.py`)."""
    return events_table.removesuffix("_events") + "_calls"


def expected(versions: Mapping[str, Mapping[Any, int]], contexts: tuple[str, ...]) -> dict[Any, int]:
    """The latest version of every aggregate a projection reads."""
    return {aggregate: v for context in contexts for aggregate, v in versions[context].items()}


def unpublished(versions: Mapping[Any, int], scanner: TopicScanner) -> list[tuple[Any, int]]:
    """Every stored (aggregate, version) that no record on the topics carries."""
    return [(a, v) for a, last in versions.items() for v in range(1, last + 1) if (a, v) not in scanner.seen]
