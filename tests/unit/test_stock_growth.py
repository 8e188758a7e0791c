"""A stock item does not grow with the orders behind it: it carries only the reservations of
orders still open, and a load after many events starts from a snapshot instead of replaying
every event since the first restock."""

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Repository
from eventsourcing.persistence import EventStore

from domain.ids import stock_item_id
from domain.inventory import ReleaseStock, ReserveStock, RestockSku, ShipStock, StockItem
from services.bootstrap import System
from services.contexts.inventory.service import SNAPSHOT_INTERVAL

from .scenario import unique

CYCLES = 1_000


class CountingEvents:
    """An event store that counts the events a load reads from it."""

    def __init__(self, events: EventStore[UUID]) -> None:
        self.events, self.read = events, 0

    def get(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for each in self.events.get(*args, **kwargs):
            self.read += 1
            yield each


def orders_go_through(system: System, sku: str, cycles: int) -> list[UUID]:
    """Each order reserves one unit and ships it, or (every third) releases it."""
    inventory, order_ids = system.inventory, []
    inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=cycles))
    for n in range(cycles):
        order_id = uuid4()
        inventory.execute(ReserveStock(command_id=unique("reserve"), order_id=order_id, lines=((sku, 1),)))
        close = ReleaseStock if n % 3 == 0 else ShipStock
        inventory.execute(close(command_id=unique("close"), order_id=order_id, skus=(sku,)))
        order_ids.append(order_id)
    return order_ids


def test_after_a_thousand_orders_went_through_the_stock_item_holds_none_of_them(system: System) -> None:
    sku = unique("SKU")
    order_ids = orders_go_through(system, sku, CYCLES)
    still_open = uuid4()
    system.inventory.execute(
        ReserveStock(command_id=unique("reserve"), order_id=still_open, lines=((sku, 1),))
    )

    item = system.inventory.stock_item(sku)
    state = repr(vars(item))

    assert item.reservations == {str(still_open): 1}
    assert not [order_id for order_id in order_ids if str(order_id) in state]
    assert len(state) < 1_000, "the item's state does not grow with the orders behind it"
    assert item.restocked == item.available + item.reserved + item.shipped


def test_a_cold_load_after_many_events_starts_from_a_snapshot(system: System) -> None:
    sku = unique("SKU")
    orders_go_through(system, sku, CYCLES)
    inventory = system.inventory
    assert inventory.snapshots is not None, "the inventory keeps snapshots"
    events = CountingEvents(inventory.events)
    cold = Repository(event_store=events, snapshot_store=inventory.snapshots)  # type: ignore[arg-type]

    loaded = cold.get(stock_item_id(sku))

    assert loaded.version > 2 * CYCLES
    assert events.read < SNAPSHOT_INTERVAL
    assert vars(loaded) == vars(inventory.stock_item(sku))


def test_a_stock_item_restored_from_its_snapshot_carries_on_as_the_same_item(system: System) -> None:
    sku = unique("SKU")
    orders_go_through(system, sku, SNAPSHOT_INTERVAL)
    snapshots = system.inventory.snapshots
    assert snapshots is not None
    snapshot = next(iter(snapshots.get(stock_item_id(sku), desc=True, limit=1)))
    restored = snapshot.mutate(None)

    assert isinstance(restored, StockItem)
    assert (restored.tenant_id, restored.sku, restored.reservations) == ("", sku, {})
    assert restored.restocked == restored.available + restored.shipped == SNAPSHOT_INTERVAL


def test_a_repeated_reservation_of_a_shipped_order_is_answered_by_the_command_log(system: System) -> None:
    """The item no longer remembers a shipped order; the command log does. The saga sends its
    commands with `expect_new`, so the repeat is decided again before the log answers it."""
    sku, order_id = unique("SKU"), uuid4()
    inventory = system.inventory
    inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=5))
    reserve = ReserveStock(command_id=unique("reserve"), order_id=order_id, lines=((sku, 2),))
    inventory.execute(reserve, expect_new=True)
    inventory.execute(ShipStock(command_id=unique("ship"), order_id=order_id, skus=(sku,)))
    version = inventory.stock_item(sku).version

    again = inventory.execute(reserve, expect_new=True)

    assert again.replayed
    item = inventory.stock_item(sku)
    assert (item.version, item.available, item.reserved, item.shipped) == (version, 3, 0, 2)
