"""Command idempotence on a real PostgreSQL server: races, processes and a lost COMMIT.

Every assertion reads the stored rows, never a counter the code under test keeps.
"""

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from domain.inventory import ReserveStock, RestockSku
from infrastructure.faults.tcp_proxy import TcpProxy
from infrastructure.settings import Settings
from services.bootstrap import build

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    """A schema of its own per test, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield Settings(database_url=database_url, postgres_schema=schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def count(settings: Settings, table: str, where: str = "true") -> int:
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        query = f"SELECT count(*) FROM {settings.postgres_schema}.{table} WHERE {where}"
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_8_threads_submitting_the_same_200_commands_apply_each_once(settings: Settings) -> None:
    system = build(settings)
    system.inventory.execute(RestockSku(command_id="restock", sku="HOT", quantity=1_000))
    commands = [
        ReserveStock(command_id=f"reserve-{i}", order_id=uuid.uuid4(), lines=(("HOT", 1),))
        for i in range(200)
    ]

    def submit_all(_: int) -> int:
        return sum(system.inventory.execute(command).replayed for command in commands)

    with ThreadPoolExecutor(8) as pool:
        replays = sum(pool.map(submit_all, range(8)))

    assert count(settings, "inventory_events", "topic = 'StockReserved.v1'") == 200
    assert count(settings, "inventory_commands", "command_id LIKE 'reserve-%'") == 200
    assert replays == 7 * 200
    item = system.inventory.stock_item("HOT")
    assert (item.available, item.reserved) == (800, 200)
    system.close()


def restock_in_another_process(settings: Settings, barrier: "multiprocessing.synchronize.Barrier") -> None:
    system = build(settings)
    barrier.wait()
    for i in range(30):
        system.inventory.execute(RestockSku(command_id=f"restock-{i}", sku="RACE", quantity=1))
    system.close()


def test_the_same_commands_racing_from_three_processes_apply_once(settings: Settings) -> None:
    build(settings).close()  # create the tables before the race
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(3)
    workers = [spawn.Process(target=restock_in_another_process, args=(settings, barrier)) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join(timeout=120)
            assert worker.exitcode == 0
    finally:
        for worker in workers:  # a failed or stuck worker must not keep pytest waiting
            if worker.is_alive():
                worker.kill()
                worker.join()

    assert count(settings, "inventory_events", "topic = 'StockRestocked.v1'") == 30
    assert build(settings).inventory.stock_item("RACE").available == 30


def test_a_retry_after_a_lost_commit_answers_from_the_command_log(settings: Settings) -> None:
    assert settings.database_url
    server = conninfo_to_dict(settings.database_url)
    with TcpProxy(str(server.get("host") or "127.0.0.1"), int(server.get("port") or 5432)) as proxy:
        via_proxy = make_conninfo(settings.database_url, host="127.0.0.1", port=proxy.port)
        system = build(Settings(database_url=via_proxy, postgres_schema=settings.postgres_schema))
        system.inventory.execute(RestockSku(command_id="first", sku="AMB", quantity=5))

        proxy.cut_after(b"COMMIT")
        receipt = system.inventory.execute(RestockSku(command_id="ambiguous", sku="AMB", quantity=7))

    assert proxy.cuts == 1
    # The first attempt committed; its answer was lost; the retry found the command logged.
    assert receipt.replayed
    assert receipt.result == {"sku": "AMB", "available": 12}
    assert count(settings, "inventory_events", "topic = 'StockRestocked.v1'") == 2
    system.close()
