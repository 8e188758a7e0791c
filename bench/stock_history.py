"""What loading a SKU with a long history costs, relative to loading a fresh one.

A SKU gathers two events per order (reserved, then shipped or released) for as long as the
shop sells it. Its stock item carries no per-order history and is snapshotted every
SNAPSHOT_INTERVAL events (`services/contexts/inventory/service.py`), so a cold load (a new process, an
evicted cache entry) should cost about what a fresh SKU's does, whatever lies behind it.
This builds a SKU with `--orders` orders behind it, then times cold loads and their peak
memory (tracemalloc) as ratios against a fresh SKU loaded in the same run, from the latest
snapshot and, for comparison, by replaying every event as a load without snapshots would.

The history is written through the inventory application in batches (`save` of a stock
item that reserved and shipped a batch of orders), which takes its snapshots as the command
path does, without a command row per order: the rows are not part of the load.

Usage: python -m bench.stock_history [--orders 100000] [--tiny]   (DATABASE_URL, or the
embedded server)
"""

import argparse
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from eventsourcing.application import Repository

from bench.database import database_url
from domain.ids import stock_item_id
from domain.inventory import MAX_RESTOCK_QUANTITY, StockItem
from domain.tracing import Trace
from infrastructure.settings import Settings
from services.bootstrap import build
from services.contexts.inventory.service import SNAPSHOT_INTERVAL, InventoryService

BATCH = 500  # orders per save
LOADS = 5  # timed loads per SKU from a snapshot; the median is reported
TRACE = Trace("bench", "bench", "bench")


class CountingEvents:
    """An event store that counts the events a load reads from it."""

    def __init__(self, events: Any) -> None:
        self.events, self.read = events, 0

    def get(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for each in self.events.get(*args, **kwargs):
            self.read += 1
            yield each


def build_history(inventory: InventoryService, sku: str, orders: int) -> None:
    """`orders` orders of one unit each behind `sku`, printing progress as it goes."""
    item = StockItem.register(sku, TRACE)
    for stocked in range(0, orders, MAX_RESTOCK_QUANTITY):
        item.restock(min(MAX_RESTOCK_QUANTITY, orders - stocked), TRACE)
    inventory.save(item)
    started, reported = time.perf_counter(), 0
    for first in range(0, orders, BATCH):
        batch = [uuid.uuid4() for _ in range(min(BATCH, orders - first))]
        for order_id in batch:
            item.reserve(order_id, 1, TRACE)
        for order_id in batch:
            item.ship(order_id, TRACE)
        inventory.save(item)
        done = first + len(batch)
        if done * 10 // orders > reported or done == orders:
            reported = done * 10 // orders
            print(
                f"  {done:>8} orders, {item.version:>8} events  {time.perf_counter() - started:6.1f} s",
                flush=True,
            )


def load(inventory: InventoryService, sku: str, snapshots: bool) -> tuple[float, int, int]:
    """One cold load: its seconds, the events it read and its peak traced memory in bytes."""
    events = CountingEvents(inventory.events)
    store = inventory.snapshots if snapshots else None
    cold = Repository(event_store=events, snapshot_store=store)  # type: ignore[arg-type]
    started = time.perf_counter()
    cold.get(stock_item_id(sku))
    seconds = time.perf_counter() - started
    tracemalloc.start()
    Repository(event_store=inventory.events, snapshot_store=store).get(stock_item_id(sku))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, events.read, peak


def measure(database_url: str, orders: int) -> dict[str, tuple[float, int, int]]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    system = build(Settings(database_url=database_url, postgres_schema=schema))
    inventory = system.inventory
    try:
        fresh = StockItem.register("FRESH", TRACE)
        fresh.restock(1, TRACE)
        inventory.save(fresh)
        print(
            f"building a SKU with {orders} orders behind it (snapshot every {SNAPSHOT_INTERVAL} events) ..."
        )
        build_history(inventory, "HISTORY", orders)

        def median_of(sku: str) -> tuple[float, int, int]:
            runs = [load(inventory, sku, snapshots=True) for _ in range(LOADS)]
            return statistics.median(r[0] for r in runs), runs[0][1], runs[0][2]

        print("loading ...", flush=True)
        return {
            "fresh": median_of("FRESH"),
            "snapshot": median_of("HISTORY"),
            "replay": load(inventory, "HISTORY", snapshots=False),
        }
    finally:
        system.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100_000, help="orders behind the SKU (default 100000)")
    parser.add_argument("--tiny", action="store_true", help="1,000 orders: a few seconds, to keep it working")
    args = parser.parse_args()
    orders = 1_000 if args.tiny else args.orders
    with database_url() as url:
        r = measure(url, orders)
    base_s, _, base_peak = r["fresh"]
    print(f"cold load of one SKU (time: median of {LOADS}, replay: one load; peak memory: tracemalloc)")
    for name, label in [
        ("fresh", "fresh SKU (2 events)"),
        ("snapshot", f"{orders} orders, from its snapshot"),
        ("replay", f"{orders} orders, every event replayed"),
    ]:
        seconds, read, peak = r[name]
        print(
            f"  {label:<38} {seconds * 1000:9.1f} ms {seconds / base_s:8.1f} x   "
            f"peak {peak / 1024:9.0f} KiB {peak / base_peak:8.1f} x   events read {read:>7}"
        )


if __name__ == "__main__":
    main()
