"""Runs the demo: the system's processes in the background, customers in the foreground,
then the invariant check, a redelivery of everything, and a summary."""

import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from domain.orders import Order
from domain.payments import Payment
from infrastructure.database import connect
from infrastructure.settings import Settings
from services.bootstrap import System, build, edges
from services.check import Report, events_tables, run_check
from services.demo.redelivery import Redelivery, redeliver
from services.demo.scenario import Customers, Plan, make_plans, schedule
from services.demo.submitter import Submitter

SKUS = [f"SKU-{n}" for n in range(1, 6)]
STOCK_PER_SKU = 120  # less than 200 orders want: some run out of stock
QUIESCENCE_TIMEOUT_S = 90.0
CONTEXTS = ("orders", "inventory")  # where the customers' commands go


def run_demo(
    settings: Settings,
    processes: AbstractContextManager[Any],
    orders: int,
    seed: int,
    workers: int,
    say: Callable[[str], None] = print,
) -> bool:
    """Run the scenario on `settings` while `processes` runs the system; True when every
    invariant holds and the redelivery changed nothing."""
    rng = random.Random(seed)
    plans = make_plans(settings.postgres_schema, orders, SKUS, rng)
    submitter = Submitter()
    started = time.monotonic()
    system = build(settings, *edges(settings))  # the saga's provider and carrier
    try:
        customers = Customers(system, submitter, settings.postgres_schema)
        with processes:
            say(f"{orders} orders, {len(SKUS)} SKUs, {workers} customers at once, every command sent twice")
            customers.restock(SKUS, STOCK_PER_SKU)
            actions = schedule(plans, rng)
            with ThreadPoolExecutor(workers) as pool:
                for done, _ in enumerate(pool.map(customers.act, actions), start=1):
                    if done % 50 == 0 or done == len(actions):
                        say(f"  {done}/{len(actions)} placements and cancellations sent ({_since(started)})")
            say("waiting until every order is finished, published and projected")
            report = run_check(settings, QUIESCENCE_TIMEOUT_S, say)
        if not report.quiescent:  # redelivery would do the unfinished work, not show idempotence
            say(report.table())
            return False
        say(f"processes stopped ({_since(started)}); handing every record to the saga and projections again")
        redelivered = redeliver(settings, system)
        layers = Layers(submitter.counts, _answers_lost(settings, system), redelivered)
        say(summary(_endings(system, plans), layers, report, time.monotonic() - started))
    finally:
        system.close()
    return report.ok and redelivered.ok


@dataclass(frozen=True)
class Layers:
    """What each idempotence layer absorbed in this run."""

    commands: Counter[str]  # the customers' submissions, by "<context>.<outcome>"
    answers_lost: int  # provider calls whose answer was lost, asked again under the same key
    again: Redelivery

    @property
    def duplicate_commands(self) -> int:
        return sum(self.commands[f"{context}.duplicates"] for context in CONTEXTS)


def summary(endings: Counter[str], layers: Layers, report: Report, seconds: float) -> str:
    again = layers.again
    checksums = "unchanged" if not again.changed else "CHANGED: " + ", ".join(again.changed)
    row = "  {:<36}{:>6}  {}"
    lines = ["", "how the orders ended:"]
    lines += [f"  {ending:<36}{n:>6}" for ending, n in sorted(endings.items())]
    lines += [
        "",
        "duplicates absorbed, per layer:",
        row.format("command log: customers sent twice", layers.duplicate_commands, "answered like the first"),
        row.format("provider keys: answer lost, asked again", layers.answers_lost, "charged once (I1)"),
        row.format("saga: every record again", again.saga_records, f"{again.new_rows} new rows"),
        row.format("projections: every record again", again.skipped, f"skipped, checksums {checksums}"),
        "",
        f"events: {report.events_stored} stored, {report.records_published} records published",
        "",
        report.table(),
        f"\nfinished in {seconds:.1f}s",
    ]
    return "\n".join(lines)


def _endings(system: System, plans: list[Plan]) -> Counter[str]:
    return Counter(_ending(system.orders.order(plan.order_id)) for plan in plans)


def _ending(order: Order) -> str:
    """`failed (shipment failed)`: the status and the reason's gist, without the details."""
    return f"{order.status} ({order.reason.partition(':')[0]})" if order.reason else str(order.status)


def _answers_lost(settings: Settings, system: System) -> int:
    """Payment calls that ended in "outcome unknown" (recorded as an event) and were asked
    again under the same key."""
    table = sql.Identifier(events_tables(system)["payments"])
    with connect(settings) as conn:
        query = sql.SQL("SELECT count(*) FROM {} WHERE topic = %s").format(table)
        row = conn.execute(query, (Payment.OutcomeUnknown.TOPIC,)).fetchone()
    return int(row[0]) if row else 0


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"
