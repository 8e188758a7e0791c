"""What the idempotent command path costs, relative to what the database can do.

Three numbers from one run on one server, each single-threaded, one commit per operation:
  raw     - psycopg INSERT + COMMIT of one row: the ceiling for any durable write;
  library - eventsourcing's own Application.save of one event (takes the table lock);
  command - IdempotentApplication.execute: command-log lookup, load, decide, and save of
            events plus the command row in one transaction.
and the duplicate path: execute of an already-applied command (one indexed SELECT).

Usage: python -m bench.command_path [--n 500]   (DATABASE_URL, or the embedded server)
"""

import argparse
import time
import uuid
from collections.abc import Callable

import psycopg

from bench.database import database_url
from domain.inventory import RestockSku, StockItem
from domain.tracing import Trace
from infrastructure.settings import Settings
from services.bootstrap import build


def rate(n: int, operation: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(n):
        operation(i)
    return n / (time.perf_counter() - started)


def measure(database_url: str, n: int) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    system = build(Settings(database_url=database_url, postgres_schema=schema))
    inventory = system.inventory
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {schema}.raw (id bigserial PRIMARY KEY, body text)")
        raw = rate(n, lambda i: conn.execute(f"INSERT INTO {schema}.raw (body) VALUES (%s)", (str(i),)))
        item = StockItem.register("LIB", Trace("b", "b", "b"))
        inventory.save(item)

        def library_save(i: int) -> None:
            item.restock(1, Trace(f"lib-{i}", "b", "b"))
            inventory.save(item)

        library = rate(n, library_save)
        command = rate(n, lambda i: inventory.execute(RestockSku(command_id=f"c-{i}", sku="CMD", quantity=1)))
        replay = rate(n, lambda i: inventory.execute(RestockSku(command_id=f"c-{i}", sku="CMD", quantity=1)))
        system.close()
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return {"raw": raw, "library": library, "command": command, "replay": replay}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=500, help="operations per measurement (default 500)")
    args = parser.parse_args()
    with database_url() as url:
        print(f"measuring {args.n} operations each on {url} ...", flush=True)
        r = measure(url, args.n)
    print(f"  raw insert+commit     {r['raw']:8.0f}/s  (the limit)")
    print(f"  library save          {r['library']:8.0f}/s  {r['library'] / r['raw']:5.2f} x raw")
    print(
        f"  idempotent execute    {r['command']:8.0f}/s  {r['command'] / r['raw']:5.2f} x raw, "
        f"{r['command'] / r['library']:5.2f} x library save"
    )
    print(f"  duplicate (replayed)  {r['replay']:8.0f}/s  {r['replay'] / r['raw']:5.2f} x raw")


if __name__ == "__main__":
    main()
