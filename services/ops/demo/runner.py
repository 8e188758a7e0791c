"""Runs the demo: the system's processes in the background, customers in the foreground,
then the invariant check, a redelivery of everything, and a summary."""

import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from threading import Thread
from typing import Protocol

import httpx

from domain.errors import UnknownPaymentError
from domain.orders import Order
from domain.payments import PaymentStatus
from infrastructure.settings import Settings
from infrastructure.supervisor import Supervisor
from services.bootstrap import System, build, edges
from services.contexts import orders as orders_context
from services.ops.check import Report, run_check
from services.ops.demo.absorbed import Absorbed, copy_records
from services.ops.demo.redelivery import Redelivery, redeliver
from services.ops.demo.scenario import FIRST_CALL_FAILS, Customers, Plan, make_plans, schedule
from services.ops.demo.submitter import Submitter
from services.ops.reconcile import Options, reconcile

SKUS = [f"SKU-{n}" for n in range(1, 6)]
STOCK_PER_SKU = 120  # less than 200 orders want: some run out of stock
QUIESCENCE_TIMEOUT_S = 90.0
READY_TIMEOUT_S = 60.0
# Everything is younger than reconcile's default grace (60 s) by the end: once the system is
# quiescent, only the provider's webhooks may still be on their way, and they come in seconds.
RECONCILE_GRACE_S = 5.0
COPY_WAIT_S = 30.0  # for the first placements to be published, while the saga is paused

# How far a long step got, and now and then a line for a log to show (None in between).
Advance = Callable[[float, str | None], None]


class Track(Protocol):
    """Shows a long step's progress: a bar on a terminal, else the lines its `Advance` is given."""

    def __call__(self, what: str, total: float | None, unit: str = "") -> AbstractContextManager[Advance]: ...


def run_demo(
    settings: Settings,
    processes: Supervisor,
    api: httpx.Client,
    orders: int,
    seed: int,
    workers: int,
    track: Track,
    metrics_urls: Mapping[str, str],
    say: Callable[[str], None] = print,
) -> bool:
    """Run the scenario against `api` while `processes` run the system on `settings`; True
    when every invariant holds, every process counted the duplicates the scenario gave it (at
    `metrics_urls`, by process name) and the redelivery changed nothing."""
    rng = random.Random(seed)
    plans = make_plans(settings.postgres_schema, orders, SKUS, rng)
    submitter = Submitter(api)
    customers = Customers(submitter, settings.postgres_schema)
    started = time.monotonic()
    system = build(settings, *edges(settings))  # the saga's provider and carrier
    try:
        with processes.running():
            wait_until_ready(api, say)
            say(f"{orders} orders, {len(SKUS)} SKUs, {workers} customers at once, every POST sent twice")
            customers.restock(SKUS, STOCK_PER_SKU)
            actions = schedule(plans, rng)
            sending = track("placements and cancellations", len(actions), "sent")
            copied: list[int] = []
            twice = Thread(target=lambda: copied.append(_placements_twice(settings, processes)))
            twice.start()
            with ThreadPoolExecutor(workers) as pool, sending as advance:
                for done, _ in enumerate(pool.map(customers.act, actions), start=1):
                    due = done % 50 == 0 or done == len(actions)
                    line = f"  {done}/{len(actions)} placements and cancellations sent ({_since(started)})"
                    advance(done, line if due else None)
            twice.join()
            copied.append(copy_records(settings, system.registry.names))
            say(f"{sum(copied)} published records put on their topics again, as a broker may deliver twice")
            say("waiting until every order is finished, published and projected")
            report = run_check(settings, QUIESCENCE_TIMEOUT_S, say)
            counted = Absorbed.scrape(metrics_urls)
            reconciled = reconcile(settings, Options(grace_s=RECONCILE_GRACE_S), say=lambda _: None)
        if not report.quiescent:  # redelivery would do the unfinished work, not show idempotence
            say(report.table())
            return False
        say(f"processes stopped ({_since(started)}); handing every record to the saga and projections again")
        redelivered = redeliver(settings, system)
        layers = Layers(submitter.counts, _retried_at_provider(system, customers, plans), redelivered)
        endings = Counter(ending(system.orders.order(i)) for i in customers.order_ids.values())
        say(summary(endings, layers, report, time.monotonic() - started))
        unused = () if submitter.counts["in flight, asked again"] else ("http_in_flight",)
        missing = counted.missing(unused)
        say("\nduplicates absorbed, per process and layer, as each process's /metrics said:")
        say("\n".join(counted.table()))
        say("  every process counted what it absorbed" if not missing else "  MISSING: " + ", ".join(missing))
        say("\nreconciliation (orders reconcile), while the processes ran:")
        say("\n".join(f"  {line}" for line in reconciled.lines()))
    finally:
        system.close()
    return report.ok and redelivered.ok and not missing and not reconciled.found


@dataclass(frozen=True)
class Layers:
    """What each idempotence layer absorbed in this run."""

    requests: Counter[str]  # the customers' POSTs, by how the API answered them
    retried_at_provider: int  # orders whose first provider call failed, asked again under one key
    again: Redelivery


def summary(endings: Counter[str], layers: Layers, report: Report, seconds: float) -> str:
    again = layers.again
    checksums = "unchanged" if not again.changed else "CHANGED: " + ", ".join(again.changed)
    row = "  {:<36}{:>6}  {}"
    lines = ["", "how the orders ended:"]
    lines += [f"  {ending:<36}{n:>6}" for ending, n in sorted(endings.items())]
    lines += [
        "",
        "duplicates absorbed, per layer:",
        row.format("API: every POST sent twice", layers.requests["replayed"], "replayed, byte for byte"),
        row.format("API: twin still running", layers.requests["in flight, asked again"], "409, asked again"),
        row.format("provider: 5xx or lost answer", layers.retried_at_provider, "asked again, charged once"),
        row.format("saga: every record again", again.saga_records, f"{again.new_rows} new rows"),
        row.format("projections: every record again", again.skipped, f"skipped, checksums {checksums}"),
        "",
        f"events: {report.events_stored} stored, {report.records_published} records published",
        "",
        report.table(),
        f"\nfinished in {seconds:.1f}s",
    ]
    return "\n".join(lines)


def ending(order: Order) -> str:
    """`failed (shipment failed)`: the status and the reason's gist, without the details."""
    return f"{order.status} ({order.reason.partition(':')[0]})" if order.reason else str(order.status)


def _retried_at_provider(system: System, customers: Customers, plans: list[Plan]) -> int:
    """Orders paid with a token that fails the first provider call (a 5xx, or a charge whose
    answer is lost) and that did reach the provider: each was asked again under one key."""
    retried = 0
    for plan in plans:
        if plan.token in FIRST_CALL_FAILS:
            try:
                payment = system.payments.payment_of(customers.order_ids[plan.key])
            except UnknownPaymentError:
                continue  # stopped before payment (out of stock, cancelled)
            retried += payment.status is not PaymentStatus.REQUESTED
    return retried


def _placements_twice(settings: Settings, processes: Supervisor) -> int:
    """The first placements, each on its topic twice before the saga, paused meanwhile, reads it."""
    with processes.paused("saga"):
        return copy_records(settings, [orders_context.CONTEXT.name], wait_s=COPY_WAIT_S)


def wait_until_ready(api: httpx.Client, say: Callable[[str], None]) -> None:
    say(f"waiting for the API at {api.base_url}")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if api.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the API at {api.base_url} was not ready within {READY_TIMEOUT_S:.0f}s")


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"
