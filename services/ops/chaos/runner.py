"""Runs the chaos: the system, the customers and the nemesis at once; then heal, wait for
quiescence, and check every invariant."""

import dataclasses
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from domain.inventory import MAX_RESTOCK_QUANTITY
from infrastructure.database import connect
from infrastructure.settings import Settings
from infrastructure.supervisor import Supervisor
from services.bootstrap import build
from services.ops.chaos.nemesis import Nemesis, Targets
from services.ops.chaos.workload import run_workload
from services.ops.check import Finding, Report, events_tables, run_check, store
from services.ops.demo.runner import Advance, Track, ending, wait_until_ready
from services.ops.demo.scenario import Customers
from services.ops.demo.submitter import Submitter

SKUS = [f"SKU-{n}" for n in range(1, 9)]
STOCK_PER_SKU = MAX_RESTOCK_QUANTITY  # the most one restock adds; plenty: the run is about faults
QUIESCENCE_TIMEOUT_S = 300.0  # about a minute is usual; a child in its longest restart backoff adds more


@dataclass(frozen=True)
class Plan:
    seed: int
    duration_s: float
    rate: float  # orders a second
    workers: int


def run_chaos(
    settings: Settings,
    supervisor: Supervisor,
    targets: Targets,
    api: httpx.Client,
    plan: Plan,
    track: Track,
    say: Callable[[str], None] = print,
) -> bool:
    """True when every invariant holds after the faults."""
    rng = random.Random(plan.seed)
    say(f"seed {plan.seed}: {plan.duration_s:.0f}s of faults, about {plan.rate:g} orders/s")
    submitter = Submitter(api)
    customers = Customers(submitter, settings.postgres_schema)
    nemesis = Nemesis(targets, random.Random(rng.random()), say)
    started = time.monotonic()
    with supervisor.running():
        wait_until_ready(api, say)
        customers.restock(SKUS, STOCK_PER_SKU)
        stop = threading.Event()
        chaos = threading.Thread(target=nemesis.run, args=(stop,), name="nemesis")
        with track("faults", plan.duration_s, "s") as advance:
            clock = threading.Thread(target=_count_down, args=(plan.duration_s, stop, advance), name="clock")
            chaos.start()
            clock.start()
            try:
                placed = run_workload(
                    customers, SKUS, random.Random(rng.random()), plan.rate, plan.workers, stop, say
                )
            finally:
                stop.set()
                clock.join()
                chaos.join()
        faults = nemesis.injected.total()
        say(f"healed after {time.monotonic() - started:.0f}s: {placed} orders placed, {faults} faults")
        say("waiting until every order is finished, published and projected")
        report = run_check(settings, QUIESCENCE_TIMEOUT_S, say)
    findings = [*report.findings, one_order_per_key(settings, customers)]
    report = dataclasses.replace(report, findings=findings)
    say(summary(plan, endings(settings, customers), nemesis, submitter, report))
    return report.ok and report.quiescent


def _count_down(duration_s: float, stop: threading.Event, advance: Advance) -> None:
    """Set `stop` once `duration_s` has passed, showing the seconds gone by each second."""
    started = time.monotonic()
    while not stop.wait(max(0.0, min(1.0, started + duration_s - time.monotonic()))):
        gone = time.monotonic() - started
        advance(min(gone, duration_s), None)
        if gone >= duration_s:
            stop.set()


def one_order_per_key(settings: Settings, customers: Customers) -> Finding:
    """I7 for the run: every placement (sent twice, retried through the faults) made exactly
    one order, and no order exists that no placement made."""
    system = build(settings)
    try:
        table = events_tables(system)["orders"]
    finally:
        system.close()
    with connect(settings) as conn:
        stored = set(store.max_versions(conn, table))
    acknowledged = set(customers.order_ids.values())
    bad = [f"order {order_id} was acknowledged but is not stored" for order_id in acknowledged - stored]
    bad += [f"order {order_id} is stored but no placement made it" for order_id in stored - acknowledged]
    checked = f"{len(customers.order_ids)} placements, {len(stored)} orders stored"
    return Finding("I7", "one order per placement", checked, bad)


def endings(settings: Settings, customers: Customers) -> Counter[str]:
    system = build(settings)
    try:
        return Counter(ending(system.orders.order(order_id)) for order_id in customers.order_ids.values())
    finally:
        system.close()


def summary(plan: Plan, endings: Counter[str], nemesis: Nemesis, submitter: Submitter, report: Report) -> str:
    lines = ["", f"seed {plan.seed}", "faults injected:"]
    lines += [f"  {fault:<20}{n:>6}" for fault, n in sorted(nemesis.injected.items())]
    lines += [f"  {'total':<20}{nemesis.injected.total():>6}", "", "customers' POSTs, every one sent twice:"]
    lines += [f"  {outcome:<32}{n:>7}" for outcome, n in sorted(submitter.counts.items())]
    lines += ["", f"how the {endings.total()} orders ended:"]
    lines += [f"  {how:<36}{n:>7}" for how, n in sorted(endings.items())]
    lines += ["", report.table()]
    return "\n".join(lines)
