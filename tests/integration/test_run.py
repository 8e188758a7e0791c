"""`orders run` end to end through its real processes: orders placed in the event store
complete only if relay -> Kafka -> saga -> commands -> relay ... works across the children,
and the saga pays and ships them through the provider and carrier simulators over HTTP; the
API answers on its port; a saga killed with SIGKILL is started again and the next order
still completes; Ctrl-C stops every child and exits 0."""

import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from support.isolation import on_free_ports, wait_until
from support.orders import place_order
from support.running import ORDER_TIMEOUT_S, RUN, answer

from domain.ids import shipment_id
from domain.inventory import RestockSku
from domain.orders import OrderStatus
from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS
from services.bootstrap import System

pytestmark = pytest.mark.integration

CHILDREN = {
    "api",
    "psp-sim",
    "carrier-sim",
    "relay",
    "gateway",
    "saga",
    *(f"projector-{name}" for name in PROJECTIONS),
    "reconcile",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings, with the API and the simulators on free ports."""
    return on_free_ports(settings)


def test_orders_complete_across_the_processes_a_killed_saga_restarts_and_ctrl_c_stops_them_all(
    settings: Settings, system: System, orders_run: subprocess.Popen[bytes]
) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    system.inventory.execute(RestockSku(command_id=f"restock-{sku}", sku=sku, quantity=10))
    order_id = place_order(system, sku)
    assert outcome(system, order_id) is OrderStatus.COMPLETED

    charges = get(settings.psp_port, "/charges", order_id=str(order_id))["charges"]
    assert [(c["operation"], c["status"]) for c in charges] == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]
    assert announced(settings, order_id) == {"payment.authorized", "payment.captured"}
    key = f"{shipment_id(order_id)}:book"
    booked = [b for b in get(settings.carrier_port, "/shipments")["shipments"] if b["idempotency_key"] == key]
    assert [(b["status"], b["state"]) for b in booked] == [("accepted", "handed_over")]
    health = wait_until(lambda: answer(f"http://127.0.0.1:{settings.api_port}/healthz"), "the API to answer")
    assert health.status_code == 200

    run = psutil.Process(orders_run.pid)
    killed = child(run, "saga")
    saga_command = killed.cmdline()
    os.kill(killed.pid, signal.SIGKILL)
    restarted = wait_until(lambda: replacement(run, "saga", killed.pid), "the saga to be restarted")
    assert restarted.cmdline() == saga_command
    assert outcome(system, place_order(system, sku)) is OrderStatus.COMPLETED

    pids = [process.pid for process in run.children()]
    orders_run.send_signal(signal.SIGINT)
    assert orders_run.wait(timeout=30) == 0
    assert not [pid for pid in pids if alive(pid)]
    said = (settings.devstack_dir / "run.out").read_text()
    assert f"saga exited with {-signal.SIGKILL}; restarting" in said
    assert f"started saga (pid {restarted.pid})" in said
    assert said.rstrip().endswith("orders run stopped")
    assert {log.stem for log in (settings.devstack_dir / "logs").glob("*.log")} == CHILDREN


def test_a_database_without_a_broker_is_refused_in_one_line(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "KAFKA_BOOTSTRAP_SERVERS"}
    env |= {"DATABASE_URL": "postgresql://localhost/orders", "ORDERS_DEVSTACK_DIR": str(tmp_path)}
    result = subprocess.run(RUN, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("orders run: error: DATABASE_URL is set but KAFKA_BOOTSTRAP_SERVERS")
    assert len(result.stderr.splitlines()) == 1
    assert not list(tmp_path.iterdir()), "nothing was started"


def announced(settings: Settings, order_id: uuid.UUID) -> set[str]:
    """The webhooks the provider simulator queued for the order. It queues them only for what
    it was asked over HTTP: the provider's ledger called in the saga's process queues none."""
    with psycopg.connect(settings.database_url or "") as conn:
        rows = conn.execute(
            "SELECT payload->>'type' FROM psp.webhooks WHERE payload->'data'->>'order_id' = %s",
            (str(order_id),),
        ).fetchall()
    return {kind for (kind,) in rows}


def get(port: int, path: str, **params: str) -> Any:
    return httpx.get(f"http://127.0.0.1:{port}{path}", params=params, timeout=10).raise_for_status().json()


def outcome(system: System, order_id: uuid.UUID) -> OrderStatus:
    """The order's status once it has ended, however it ended."""

    def ended() -> OrderStatus | None:
        order = system.orders.order(order_id)
        return order.status if order.is_terminal else None

    status: OrderStatus = wait_until(
        ended, f"order {order_id} to end", timeout_s=ORDER_TIMEOUT_S, every_s=0.2
    )
    return status


def child(run: psutil.Process, name: str) -> psutil.Process:
    found = replacement(run, name, instead_of=None)
    assert found is not None, f"no running {name} child"
    return found


def replacement(run: psutil.Process, name: str, instead_of: int | None) -> psutil.Process | None:
    """The running child whose command line ends with `name`, unless it is `instead_of`."""
    for process in run.children():
        try:
            if process.pid != instead_of and process.cmdline()[-1:] == [name]:
                return process
        except psutil.Error:  # gone, or a zombie not yet reaped
            continue
    return None


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
