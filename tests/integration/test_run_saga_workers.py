"""`orders run --saga-workers 2`: two saga processes share the topics' partitions by a fixed
rule, each reads its own half, and orders whose events fall in either half complete."""

import os
import subprocess
from collections.abc import Iterator

import pytest
from support.isolation import environment, on_free_ports, wait_until
from support.orders import place_order
from support.running import ORDER_TIMEOUT_S, RUN, stop

from domain.inventory import RestockSku
from infrastructure.settings import Settings
from services.bootstrap import System

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return on_free_ports(settings)


@pytest.fixture
def two_sagas(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **environment(settings), "ORDERS_DEVSTACK_DIR": str(settings.devstack_dir)}
    with (settings.devstack_dir / "run.out").open("wb") as out:
        process = subprocess.Popen(
            [*RUN, "--saga-workers", "2"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process)
        for log in sorted((settings.devstack_dir / "logs").glob("saga*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")


def test_two_saga_processes_each_read_half_the_partitions_and_every_order_completes(
    settings: Settings, system: System, two_sagas: subprocess.Popen[bytes]
) -> None:
    sku = "SKU-TWO-SAGAS"
    system.inventory.execute(RestockSku(command_id="restock-two-sagas", sku=sku, quantity=100))
    orders = [place_order(system, sku) for _ in range(12)]

    def all_completed() -> bool | None:
        return all(system.orders.order(o).status == "completed" for o in orders) or None

    wait_until(all_completed, "twelve orders to complete", timeout_s=ORDER_TIMEOUT_S, every_s=0.5)
    logs = {log.stem: log.read_text() for log in (settings.devstack_dir / "logs").glob("saga*.log")}
    assert set(logs) == {"saga-1", "saga-2"}
    partitions = settings.kafka_partitions
    assert "saga: owner 0 of 2, reading" in logs["saga-1"] and "saga: owner 1 of 2, reading" in logs["saga-2"]
    for owner, log in enumerate((logs["saga-1"], logs["saga-2"])):
        owned = {p for p in range(partitions) if p % 2 == owner}
        assert all(f"orders.events[{p}]" in log for p in owned)
        assert not any(f"orders.events[{p}]" in log for p in set(range(partitions)) - owned)


def test_more_saga_workers_than_partitions_is_refused_in_one_line(settings: Settings) -> None:
    env = {**os.environ, **environment(settings), "ORDERS_KAFKA_PARTITIONS": "2"}
    result = subprocess.run(
        [*RUN, "--saga-workers", "3"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "orders run: error: --saga-workers 3 is more than the topics' 2 partitions (ORDERS_KAFKA_PARTITIONS):"
        " some saga processes would read nothing"
    ]
