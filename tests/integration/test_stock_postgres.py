"""Stock on PostgreSQL: the inventory's snapshots are stored next to its events and a process
that starts cold loads a long-lived SKU from its latest snapshot; and the `stock` read model
keeps each tenant's stock of a SKU on a row of its own."""

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from psycopg.rows import dict_row

from domain.ids import stock_item_id
from domain.inventory import ReserveStock, RestockSku, ShipStock
from infrastructure.database import connect
from infrastructure.settings import Settings
from projections.rebuild import rebuild_from_events
from projections.stock import Stock
from services.bootstrap import System
from services.contexts.inventory.service import SNAPSHOT_INTERVAL, InventoryService

pytestmark = pytest.mark.integration

ORDERS = 2 * SNAPSHOT_INTERVAL + SNAPSHOT_INTERVAL // 2  # each order is two events


class CountingEvents:
    """Wraps an event store, counting the events loads read from it."""

    def __init__(self, events: Any) -> None:
        self.events, self.read = events, 0

    def get(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for each in self.events.get(*args, **kwargs):
            self.read += 1
            yield each


def rows(settings: Settings, query: str) -> list[dict[str, Any]]:
    with connect(settings) as conn, conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(query).fetchall()


def restock(system: System, sku: str, quantity: int, tenant_id: str = "") -> None:
    command = RestockSku(command_id=uuid4().hex, sku=sku, quantity=quantity, tenant_id=tenant_id)
    system.inventory.execute(command)


def test_a_process_starting_cold_loads_a_long_lived_sku_from_its_latest_snapshot(
    settings: Settings, system: System
) -> None:
    restock(system, "HOT", ORDERS, "acme")
    for _ in range(ORDERS):
        order_id = uuid4()
        reserve = ReserveStock(
            command_id=uuid4().hex, order_id=order_id, lines=(("HOT", 1),), tenant_id="acme"
        )
        system.inventory.execute(reserve)
        system.inventory.execute(
            ShipStock(command_id=uuid4().hex, order_id=order_id, skus=("HOT",), tenant_id="acme")
        )
    item_id = stock_item_id("HOT", "acme")
    stored = rows(
        settings, f"SELECT originator_version FROM inventory_snapshots WHERE originator_id = '{item_id}'"
    )

    cold = InventoryService(env=settings.persistence_env())
    try:
        events = CountingEvents(cold.repository.event_store)
        cold.repository.event_store = events  # type: ignore[assignment]
        loaded = cold.stock_item("HOT", "acme")
    finally:
        cold.close()

    assert sorted(row["originator_version"] for row in stored) == [
        v for v in range(SNAPSHOT_INTERVAL, loaded.version + 1, SNAPSHOT_INTERVAL)
    ]
    assert loaded.version == 2 + 2 * ORDERS
    assert events.read < SNAPSHOT_INTERVAL
    assert vars(loaded) == vars(system.inventory.stock_item("HOT", "acme"))
    assert (loaded.available, loaded.reserved, loaded.shipped, loaded.reservations) == (0, 0, ORDERS, {})


def test_the_stock_read_model_keeps_each_tenant_s_stock_of_a_sku_apart(
    settings: Settings, system: System
) -> None:
    restock(system, "SHARED-NAME", 5, "acme")
    restock(system, "SHARED-NAME", 7, "globex")
    restock(system, "SHARED-NAME", 9)
    order_id: UUID = uuid4()
    reserve = ReserveStock(
        command_id=uuid4().hex, order_id=order_id, lines=(("SHARED-NAME", 2),), tenant_id="globex"
    )
    system.inventory.execute(reserve)

    rebuild_from_events(settings, Stock(), {"inventory": system.inventory})

    assert rows(settings, "SELECT * FROM stock ORDER BY tenant_id") == [
        {"tenant_id": "", "sku": "SHARED-NAME", "available": 9, "reserved": 0, "shipped": 0, "restocked": 9},
        {
            "tenant_id": "acme",
            "sku": "SHARED-NAME",
            "available": 5,
            "reserved": 0,
            "shipped": 0,
            "restocked": 5,
        },
        {
            "tenant_id": "globex",
            "sku": "SHARED-NAME",
            "available": 5,
            "reserved": 2,
            "shipped": 0,
            "restocked": 7,
        },
    ]
