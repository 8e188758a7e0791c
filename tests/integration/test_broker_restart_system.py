"""The whole flow across a broker that restarts mid-flight and forgets every topic, record
and committed offset (the local broker keeps them in memory). Orders are being placed,
reserved, paid, shipped and cancelled while it happens. Once the system is quiescent again,
the invariant check reads the stores, the provider's and the carrier's ledgers and the
topics: no stopped order holds stock or a live booking (I4), every projection equals a
fresh fold (I5), and every stored event is on its topic and applied once (I6). The broker
is the test's own, restarted on the same port."""

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from support.crashing import supervised
from support.isolation import isolated_settings, on_free_ports
from support.orders import place_order

from domain.errors import OrderStateError
from domain.inventory import RestockSku
from domain.orders import CancelOrder
from infrastructure.devstack import LocalBroker
from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS
from services.bootstrap import System, build
from services.ops.check import run_check

pytestmark = pytest.mark.integration

PROCESSES = {"psp-sim", "carrier-sim", "relay", "gateway", "saga", *(f"projector-{p}" for p in PROJECTIONS)}


@pytest.fixture
def settings(database_url: str, broker: LocalBroker, tmp_path: Path) -> Iterator[Settings]:
    quick = {
        "kafka_request_timeout_ms": 2000,
        "kafka_delivery_timeout_ms": 3000,
        "kafka_max_poll_interval_ms": 3000,
    }
    with isolated_settings(
        database_url, broker.bootstrap_servers, devstack_dir=tmp_path, **quick
    ) as settings:
        yield on_free_ports(settings)


@pytest.fixture
def system(settings: Settings) -> Iterator[System]:
    system = build(settings)
    yield system
    system.close()


def cancel(system: System, order_id: UUID) -> None:
    """Cancel if it has not shipped yet; else it runs to completion, which the check verifies too."""
    with contextlib.suppress(OrderStateError):
        system.orders.execute(
            CancelOrder(command_id=f"cancel-{order_id}", order_id=order_id, reason="customer")
        )


def test_after_the_broker_forgets_everything_mid_flight_the_orders_still_keep_i4_i5_and_i6(
    settings: Settings, system: System, broker: LocalBroker
) -> None:
    system.inventory.execute(RestockSku(command_id="restock", sku="SKU-R", quantity=200))
    with supervised(settings, PROCESSES):
        before = [place_order(system, "SKU-R") for _ in range(10)]
        time.sleep(2)  # some orders are on their way, some done
        for order_id in before[::3]:
            cancel(system, order_id)
        broker.stop()
        after = [place_order(system, "SKU-R") for _ in range(5)]  # stored while no broker runs
        broker.start()
        for order_id in after[::2]:
            cancel(system, order_id)
        report = run_check(settings, wait_s=120, say=print)

    print(report.table())
    assert report.quiescent, report.progress
    findings = {finding.invariant: finding for finding in report.findings}
    for invariant in ("I1", "I2", "I3", "I4", "I5", "I6"):
        assert findings[invariant].ok, findings[invariant].violations[:5]
