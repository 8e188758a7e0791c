"""`orders check` finds each invariant's violation from the stores and the topics, and names
the ids involved; on a system left alone to finish it finds none.

The system runs for real (relay, saga and projectors as processes, as `orders run` starts
them); the violations are then made the way they happen: a process that stopped before its
work was done, or a store changed behind the system's back.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support.isolation import environment, on_free_ports
from support.orders import PRICE, place_order

from domain.ids import payment_id, shipment_id
from domain.inventory import ReserveStock, RestockSku
from domain.orders import CancelOrder
from infrastructure.settings import Settings
from services.bootstrap import System
from services.cli import run
from services.ops.check import Report, run_check

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings, with the API and the simulators on free ports."""
    return on_free_ports(settings)


def finding(report: Report, invariant: str) -> list[str]:
    return next(f.violations for f in report.findings if f.invariant == invariant)


def test_a_finished_system_passes_and_each_violation_is_named(settings: Settings, system: System) -> None:
    system.inventory.execute(RestockSku(command_id="restock", sku="SKU-1", quantity=10))
    paid = place_order(system, token="tok_ok")
    declined = place_order(system, token="tok_decline")
    with run.supervisor(settings, {**os.environ, **environment(settings)}, say=lambda _: None).running():
        report = run_check(settings, wait_s=90, say=lambda _: None)
    assert report.quiescent, report.progress
    assert report.ok, report.table()
    assert report.events_stored == report.records_published > 0
    assert system.orders.order(declined).reason

    # The processes are gone: an order cancelled now keeps the stock it reserved (no saga to
    # release it), and nothing of it is published (no relay).
    stranded = place_order(system, token="tok_ok")
    system.inventory.execute(ReserveStock(command_id="reserve", order_id=stranded, lines=(("SKU-1", 1),)))
    system.orders.execute(CancelOrder(command_id="cancel", order_id=stranded, reason="customer"))
    # Behind the system's back: the provider charges the paid order a second time, the
    # carrier takes back its parcel's hand-over and books one for the cancelled order, and a
    # read-model row is edited.
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        conn.execute(
            "UPDATE carrier.shipments SET state = 'booked' WHERE idempotency_key = %s",
            (f"{shipment_id(paid)}:book",),
        )
        conn.execute(
            "INSERT INTO carrier.shipments (idempotency_key, destination, status, tracking_id, reason,"
            " fingerprint, answers_to_lose, state) VALUES (%s, 'x', 'accepted', %s, '', '', 0, 'booked')",
            (f"{shipment_id(stranded)}:book", f"TRK-ROGUE-{uuid.uuid4().hex[:8]}"),
        )
        conn.execute(
            "INSERT INTO psp.operations (idempotency_key, operation, amount_cents, status, reference)"
            " VALUES (%s, 'capture', %s, 'approved', 'rogue')",
            (f"{payment_id(paid)}:capture-again-{uuid.uuid4()}", PRICE.cents),
        )
        table = sql.Identifier(settings.postgres_schema, "order_summary")
        conn.execute(sql.SQL("UPDATE {} SET status = 'shipped' WHERE order_id = %s").format(table), (paid,))

    report = run_check(settings, say=lambda _: None)
    assert not report.quiescent
    assert any(str(paid) in v and "provider captured 2500" in v for v in finding(report, "I1"))
    assert finding(report, "I2") == []
    assert finding(report, "I3") == []  # cancelled is terminal
    assert any(str(stranded) in v and "still holds stock of SKU-1" in v for v in finding(report, "I4"))
    assert any(str(stranded) in v and "the carrier's parcel is booked" in v for v in finding(report, "I4"))
    assert any(str(paid) in v and "parcel at the carrier booked" in v for v in finding(report, "I4"))
    assert any(v.startswith("order_summary: live checksum") for v in finding(report, "I5"))
    assert any(str(stranded) in v and "not on" in v for v in finding(report, "I6"))

    # The command line says the same, as JSON, and exits 1.
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "check", "--json"],
        env={**os.environ, **environment(settings)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert not document["ok"]
    assert {i["id"] for i in document["invariants"] if not i["ok"]} == {"I1", "I4", "I5", "I6"}


def test_an_order_left_in_flight_fails_i3_by_id(settings: Settings, system: System) -> None:
    """No saga ran: the order never leaves `placed`, and I3 names it."""
    system.inventory.execute(RestockSku(command_id="restock", sku="SKU-1", quantity=1))
    waiting = place_order(system, token="tok_ok")
    report = run_check(settings, say=lambda _: None)
    assert finding(report, "I3") == [f"order {waiting} is placed"]


def test_without_servers_or_a_running_stack_it_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "check"],
        env={**env, "ORDERS_DEVSTACK_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("orders check: error: no DATABASE_URL set and no dev stack running")
    assert "Traceback" not in done.stderr
