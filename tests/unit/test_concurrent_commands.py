"""Many threads submit the same commands against one hot SKU, in memory: optimistic
concurrency and the command log together apply each command exactly once (invariant I7),
and stock is conserved (invariant I2)."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from uuid import uuid4

from domain.inventory import ReserveStock, RestockSku, StockItem
from services.application import Receipt
from services.bootstrap import System

from .scenario import unique

THREADS = 8
ORDERS = 200
RESTOCKED = 1_000


def submit_concurrently(system: System, commands: list[ReserveStock]) -> list[Receipt]:
    """Every thread submits every command, each starting at a different one so that
    threads collide both on the same command and on the stock item's version."""
    start = threading.Barrier(THREADS, timeout=10)

    def submit_all(thread: int) -> list[Receipt]:
        offset = thread * len(commands) // THREADS
        start.wait()
        return [system.inventory.execute(c) for c in commands[offset:] + commands[:offset]]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return [receipt for receipts in pool.map(submit_all, range(THREADS)) for receipt in receipts]


def test_concurrent_duplicate_reservations_reserve_once_per_order_and_conserve_stock(system: System) -> None:
    sku = unique("HOT")
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=RESTOCKED))
    commands = [
        ReserveStock(command_id=unique("reserve"), order_id=uuid4(), lines=((sku, 1 + n % 3),))
        for n in range(ORDERS)
    ]

    receipts = submit_concurrently(system, commands)

    assert len(receipts) == THREADS * ORDERS
    assert sum(not receipt.replayed for receipt in receipts) == ORDERS
    notifications = system.inventory.recorder.select_notifications(
        start=None, limit=10 * ORDERS, topics=[StockItem.Reserved.TOPIC]
    )
    reserved = [system.inventory.mapper.to_domain_event(n) for n in notifications]
    assert len(reserved) == ORDERS
    assert Counter(event.order_id for event in reserved) == Counter(str(c.order_id) for c in commands)
    requested = sum(quantity for c in commands for _, quantity in c.lines)
    item = system.inventory.stock_item(sku)
    assert (item.available, item.reserved, item.shipped) == (RESTOCKED - requested, requested, 0)
