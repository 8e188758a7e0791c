"""`stock`: per tenant and SKU how much is available, reserved, shipped and was ever restocked.

The counters are changed by deltas keyed by event id (layer 7 of docs/IDEMPOTENCY.md): each event first
records its movement in `stock_movements` under its event id, and only a movement recorded
for the first time is added to the totals. Adding deltas commutes, so the totals do not
depend on the order of events, and the event-id key makes a second application a no-op even
without the per-aggregate version check that runs before it. Invariant I2 reads off a row:
restocked = available + reserved + shipped. A row is one tenant's stock of a SKU, as a stock item
is (`domain/inventory.py`); the in-process tenant's tenant_id is empty.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from psycopg import Cursor

from infrastructure.contracts import IntegrationEvent, Payload, inventory
from projections.projection import Handler, Projection, Table

STOCK = Table(
    "stock",
    "CREATE TABLE IF NOT EXISTS stock ("
    " tenant_id text NOT NULL, sku text NOT NULL, available bigint NOT NULL, reserved bigint NOT NULL,"
    " shipped bigint NOT NULL, restocked bigint NOT NULL, PRIMARY KEY (tenant_id, sku))",
)
MOVEMENTS = Table(
    "stock_movements",
    "CREATE TABLE IF NOT EXISTS stock_movements ("
    " event_id text PRIMARY KEY, tenant_id text NOT NULL, sku text NOT NULL, event_type text NOT NULL,"
    " available bigint NOT NULL, reserved bigint NOT NULL, shipped bigint NOT NULL,"
    " restocked bigint NOT NULL)",
)
# One statement: the movement is inserted once per event id, and only an inserted movement
# reaches the totals (a duplicate inserts nothing, so it adds nothing).
MOVE = (
    "WITH movement AS ("
    " INSERT INTO stock_movements"
    " (event_id, tenant_id, sku, event_type, available, reserved, shipped, restocked)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING"
    " RETURNING tenant_id, sku, available, reserved, shipped, restocked)"
    " INSERT INTO stock AS s (tenant_id, sku, available, reserved, shipped, restocked) SELECT * FROM movement"
    " ON CONFLICT (tenant_id, sku) DO UPDATE SET available = s.available + EXCLUDED.available,"
    " reserved = s.reserved + EXCLUDED.reserved, shipped = s.shipped + EXCLUDED.shipped,"
    " restocked = s.restocked + EXCLUDED.restocked"
)


class Delta(NamedTuple):
    available: int = 0
    reserved: int = 0
    shipped: int = 0
    restocked: int = 0


class Stock(Projection):
    name = "stock"
    contexts = ("inventory",)
    tables = (STOCK, MOVEMENTS)

    def handlers(self) -> Mapping[type[Payload], Handler]:
        return {
            inventory.StockItemRegistered: _moves(lambda _: Delta()),
            inventory.StockRestocked: _moves(lambda q: Delta(available=q, restocked=q)),
            inventory.StockReserved: _moves(lambda q: Delta(available=-q, reserved=q)),
            inventory.StockReleased: _moves(lambda q: Delta(available=q, reserved=-q)),
            inventory.StockShipped: _moves(lambda q: Delta(reserved=-q, shipped=q)),
        }


def _moves(delta_of: Callable[[int], Delta]) -> Handler:
    def move(cursor: Cursor[Any], event: IntegrationEvent, payload: Any) -> None:
        delta = delta_of(getattr(payload, "quantity", 0))
        cursor.execute(MOVE, (event.event_id, payload.tenant_id, payload.sku, event.event_type, *delta))

    return move
