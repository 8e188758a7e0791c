"""`orders reconcile` on real components: on a system that finished its orders it finds
nothing; each difference made behind the system's back is found with its ids, the derivable
ones are repaired (and a second run finds them gone), the rest is left for a person; a broker
that does not answer ends the run in one line with nothing written.

The whole system runs as `orders run` starts it (test_check.py does the same); the
differences are then made the way they happen: a read-model row edited, a webhook the
payments missed, the provider's ledger and the carrier's bookings changed by hand.
"""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support.isolation import environment, isolated_settings, on_free_ports, wait_until
from support.orders import PRICE, place_order, sealed_token

from domain.ids import payment_id, shipment_id
from domain.inventory import RestockSku
from domain.payments import AuthorizePayment, PaymentStatus, RecordProviderAnswer
from infrastructure import kafka
from infrastructure.database import connect
from infrastructure.devstack import LocalBroker, free_port
from infrastructure.gateways.payments import LedgerPaymentProvider
from infrastructure.metrics import Metrics, scrape
from infrastructure.settings import Settings
from infrastructure.simulators.carrier.bookings import Bookings
from infrastructure.simulators.psp import webhooks
from infrastructure.webhook_store import PostgresWebhookStore
from projections import tables
from projections.order_summary import OrderSummary
from services.api.webhook_store import ReceivedWebhook
from services.bootstrap import System
from services.cli import run
from services.ops.check import run_check, store
from services.ops.reconcile import DatabaseUnavailableError, Options, Run, reconcile

pytestmark = pytest.mark.integration

AT_ONCE = Options(grace_s=0, timeout_s=10)  # each test first lets the system settle: nothing is in flight


def silent(_: str) -> None:
    """Progress lines go nowhere."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings, with the API and the simulators on free ports."""
    return on_free_ports(settings)


def found(run: Run) -> list[tuple[str, str, bool]]:
    """(kind, the first id, repairable) of every difference, sorted."""
    return sorted(
        (o.difference.kind, next(iter(o.difference.ids.values())), o.difference.repairable)
        for o in run.outcomes
    )


def test_a_finished_system_has_no_differences_and_each_made_one_is_found_and_the_derivable_repaired(
    settings: Settings, system: System
) -> None:
    system.inventory.execute(RestockSku(command_id="restock", sku="SKU-1", quantity=10))
    edited, unannounced, overcharged = (place_order(system, token="tok_ok") for _ in range(3))
    declined = place_order(system, token="tok_decline")
    with run.supervisor(settings, {**os.environ, **environment(settings)}, say=lambda _: None).running():
        settled = run_check(settings, wait_s=90, say=silent)
        assert settled.quiescent and settled.ok, settled.table()
        live = reconcile(settings, AT_ONCE, say=silent)  # while every process still runs
    assert live.outcomes == [], live.lines()
    assert dict(live.compared) == {"read models": 3, "payments": 4, "shipments": 3}

    # What can be derived: a read-model row edited, and an answer the provider announced while
    # no gateway was there to record it.
    summary = sql.Identifier(settings.postgres_schema, "order_summary")
    execute(settings, sql.SQL("UPDATE {} SET status = 'placed' WHERE order_id = %s").format(summary), edited)
    missed = authorized_at_the_provider_only(settings, system)
    looked = reconcile(settings, AT_ONCE, say=silent)
    assert found(looked) == [("payment", str(missed), True), ("read_model", "order_summary", True)]
    assert looked.repaired == 0 and system.payments.payment_of(missed).status is PaymentStatus.REQUESTED

    repaired = cli(settings, "--repair", "--grace", "0", "--json")
    assert repaired.returncode == 0, repaired.stderr
    document = json.loads(repaired.stdout)
    assert (document["found"], document["repaired"], document["remaining"]) == (2, 2, 0)
    assert system.payments.payment_of(missed).status is PaymentStatus.AUTHORIZED
    assert system.payments.calls.pending() == 0, "the call the webhook answered is answered"
    assert reconcile(settings, AT_ONCE, say=silent).outcomes == [], "a second run finds nothing"
    fix = next(
        o.difference.fix for o in looked.outcomes if isinstance(o.difference.fix, RecordProviderAnswer)
    )
    assert system.payments.execute(fix).replayed, (
        "the repair's command id is the webhook's: a repeat is a no-op"
    )

    # What needs a person: the provider's and the carrier's records changed behind the system's back.
    capture = f"{payment_id(unannounced)}:capture"
    execute(settings, "DELETE FROM psp.operations WHERE idempotency_key = %s", capture)
    received = sql.Identifier(settings.postgres_schema, "psp_webhooks")
    execute(settings, sql.SQL("DELETE FROM {} WHERE idempotency_key = %s").format(received), capture)
    overcharge = "UPDATE psp.operations SET amount_cents = amount_cents + 1 WHERE idempotency_key = %s"
    execute(settings, overcharge, f"{payment_id(overcharged)}:capture")
    rogue = record_webhook(settings, declined, "capture", "capture_rogue", PRICE.cents)
    unhanded = "UPDATE carrier.shipments SET state = 'booked' WHERE idempotency_key = %s"
    execute(settings, unhanded, f"{shipment_id(unannounced)}:book")
    Bookings(settings).book(f"{shipment_id(declined)}:book", "1 Test Lane, Delft")  # no saga asked for it

    metrics = Metrics()
    left = reconcile(settings, Options(repair=True, grace_s=0), metrics=metrics, say=silent)
    assert found(left) == sorted(
        [
            ("payment", str(declined), False),  # a capture of a declined payment
            ("payment", str(unannounced), False),
            ("payment", str(overcharged), False),
            ("shipment", str(declined), False),
            ("shipment", str(unannounced), False),
        ]
    ), left.lines()
    lines = "\n".join(left.lines())
    assert f"webhook={rogue}: the provider captured 1250 cents (announced by webhook);" in lines
    assert f"key={capture}: the payments store has it captured (1250 cents); the provider never" in lines
    assert "the provider captured 1251 cents (in its ledger), the payments store 1250" in lines
    assert "the shipment is shipped; the carrier's parcel is booked" in lines
    assert "); there is no shipment [needs a person]" in lines
    gauge = metrics.registry.get_sample_value
    kinds = ("read_model", "payment", "shipment")
    assert [gauge("orders_reconciliation_differences", {"kind": kind}) for kind in kinds] == [0, 3, 2]

    runs = runs_recorded(settings)
    assert [(found_, repaired_) for found_, repaired_, _ in runs] == [(0, 0), (2, 0), (2, 2), (0, 0), (5, 0)]
    assert runs[-1][2] == {"read_model": 0, "payment": 3, "shipment": 2}


def test_a_lagging_projector_is_told_apart_and_a_paused_broker_ends_the_run_with_nothing_written(
    database_url: str, broker: LocalBroker, tmp_path: Path
) -> None:
    with isolated_settings(database_url, broker.bootstrap_servers, devstack_dir=tmp_path) as settings:
        settings = settings.replace(kafka_request_timeout_ms=1000)
        published = kafka.producer(settings, "test")
        published.send(settings.topic("inventory"), b"a record no projector has read").get(timeout=10)
        published.close()
        tables.ensure(settings, OrderSummary())
        with psycopg.connect(database_url, autocommit=True) as conn:
            summary = sql.Identifier(settings.postgres_schema, "order_summary")
            conn.execute(sql.SQL("INSERT INTO {} (order_id) VALUES (%s)").format(summary), (uuid.uuid4(),))

        looked = reconcile(settings, Options(timeout_s=1), say=silent)
        assert found(looked) == [("read_model", "order_summary", True), ("read_model", "stock", False)]
        assert "had not consumed 1 of the records on its topics" in "\n".join(looked.lines())

        broker.pause()
        try:
            failed = cli(settings, "--repair")
        finally:
            broker.resume()
        assert failed.returncode == 1
        assert failed.stderr.startswith(f"orders: error: reconcile: the broker at {broker.bootstrap_servers}")
        assert "gave up after" in failed.stderr and "nothing was repaired or recorded" in failed.stderr
        assert len(failed.stderr.splitlines()) == 1 and failed.stdout == ""
        assert len(runs_recorded(settings)) == 1, "no run recorded"
        with psycopg.connect(database_url) as conn:
            assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(summary)).fetchone() == (1,), (
                "nothing repaired"
            )


def test_every_period_it_runs_again_serving_its_metrics_until_stopped(
    settings: Settings, system: System
) -> None:
    """As `orders run` schedules it; a difference for a person stays, and the gauge says so."""
    system.inventory.execute(RestockSku(command_id="restock", sku="SKU-1", quantity=1))
    order_id = place_order(system, token="tok_ok")
    Bookings(settings).book(f"{shipment_id(order_id)}:book", "1 Test Lane, Delft")  # no saga asked for it
    port = free_port()
    env = {**os.environ, **environment(settings), "ORDERS_METRICS_PORT": str(port)}
    every = [sys.executable, "-m", "services.cli", "reconcile", "--every", "1", "--repair", "--grace", "0"]
    process = subprocess.Popen(every, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: True if len(runs_recorded(settings)) >= 2 else None, "two runs")
        gauge = scrape(f"http://127.0.0.1:{port}/metrics")
        assert gauge["orders_reconciliation_differences", (("kind", "shipment"),)] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert {(found_, repaired_) for found_, repaired_, _ in runs_recorded(settings)} == {(1, 0)}
    assert "reconcile: every 1s, repairing what it can; Ctrl-C stops" in out
    assert out.count("there is no shipment") >= 2


def test_an_unreachable_database_ends_the_run_before_anything_else(settings: Settings) -> None:
    """The command line says it in one line, as for the paused broker above."""
    unreachable = settings.replace(database_url="postgresql://postgres@127.0.0.1:1/orders")
    with pytest.raises(
        DatabaseUnavailableError, match=r"^the database at 127.0.0.1:1 could not be reached \("
    ):
        reconcile(unreachable, AT_ONCE, say=silent)


def runs_recorded(settings: Settings) -> list[tuple[int, int, dict[str, int]]]:
    """(differences, repaired, by kind) of every run recorded so far, oldest first."""
    with connect(settings) as conn:
        if not store.exists(conn, "reconciliation_runs"):
            return []
        query = "SELECT differences, repaired, by_kind FROM reconciliation_runs ORDER BY finished_at"
        return [(found, repaired, by_kind) for found, repaired, by_kind in conn.execute(query)]


def authorized_at_the_provider_only(settings: Settings, system: System) -> uuid.UUID:
    """An order whose authorization the provider approved and announced while no gateway ran
    to record the answer: the payment still waits for it, its call still pending."""
    order_id = place_order(system, token="tok_ok")
    command = AuthorizePayment(
        command_id=f"{order_id}:authorize", order_id=order_id, amount=PRICE, token=sealed_token(system)
    )
    system.payments.execute(command)
    reply = LedgerPaymentProvider(settings).authorize(
        idempotency_key=f"{payment_id(order_id)}:authorize",
        amount=PRICE,
        token="tok_ok",
        order_id=str(order_id),
    )
    record_webhook(settings, order_id, "authorize", reply.reference, PRICE.cents)
    return order_id


def record_webhook(
    settings: Settings, order_id: uuid.UUID, operation: str, reference: str, cents: int
) -> str:
    """Record the provider's webhook as the API does; returns its event id."""
    key = f"{payment_id(order_id)}:{operation}"
    event_id, kind = webhooks.event_id(key), webhooks.EVENT_TYPES[operation]
    data = {"idempotency_key": key, "reference": reference, "order_id": str(order_id), "amount_cents": cents}
    store = PostgresWebhookStore(settings)
    try:
        store.record(
            ReceivedWebhook(
                event_id, kind, key, reference, str(order_id), {"id": event_id, "type": kind, "data": data}
            )
        )
    finally:
        store.close()
    return event_id


def execute(settings: Settings, statement: str | sql.Composed, *params: object) -> None:
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        conn.execute(statement, params)


def cli(settings: Settings, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **environment(settings),
        "ORDERS_DEVSTACK_DIR": str(settings.devstack_dir),
        "ORDERS_KAFKA_REQUEST_TIMEOUT_MS": str(settings.kafka_request_timeout_ms),
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "reconcile", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
