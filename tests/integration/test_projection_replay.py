"""The read models, replayed from Kafka offset 0 and rebuilt from either source (layer 6, S14).

One scenario per module: orders that complete (one of them part refunded), fail on a
declined payment and get cancelled, consumed by the three live projectors. Replays and
rebuilds leave every read model exactly as the live projectors made it, so the tests do not
depend on each other's order.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from psycopg.rows import dict_row
from support.isolation import environment, isolated_settings
from support.projecting import checksum_of, counts_of, projectors_running, wait_until_seen
from support.publishing import applications, world

from infrastructure.contracts import IntegrationEvent
from infrastructure.database import connect
from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS
from projections.projection import Projection
from projections.rebuild import rebuild_from_events, replay_from_kafka
from projections.stats import Counts
from services.bootstrap import System
from services.cli import main

pytestmark = pytest.mark.integration


@dataclass
class Live:
    settings: Settings
    system: System
    orders: dict[str, UUID]
    published: list[IntegrationEvent]
    checksums: dict[str, str]

    def records_for(self, projection: Projection) -> int:
        return sum(event.context in projection.contexts for event in self.published)


@pytest.fixture(scope="module")
def live(database_url: str, kafka_bootstrap_servers: str) -> Iterator[Live]:
    with isolated_settings(database_url, kafka_bootstrap_servers) as settings, world(settings) as w:
        flows = w.flows
        flows.restock("APPLE", 20)
        flows.restock("BREAD", 20)
        orders = {
            "refunded": flows.completed(("APPLE", 2), ("BREAD", 1), refund_cents=100),
            "declined": flows.declined(("APPLE", 1)),
            "cancelled": flows.cancelled(("BREAD", 3)),
            "completed": flows.completed(("APPLE", 1)),
        }
        live = Live(settings, w.system, orders, w.publisher.publish_new(), {})
        with projectors_running(settings, *PROJECTIONS.values()):
            for projection in PROJECTIONS.values():
                wait_until_seen(settings, projection, live.records_for(projection))
        live.checksums = {name: checksum_of(settings, p) for name, p in PROJECTIONS.items()}
        yield live


def rows(settings: Settings, query: str, *params: Any) -> list[dict[str, Any]]:
    with connect(settings) as conn, conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def test_the_order_summary_shows_each_orders_status_money_shipment_and_history(live: Live) -> None:
    summary = {row["order_id"]: row for row in rows(live.settings, "SELECT * FROM order_summary")}
    refunded, declined = summary[live.orders["refunded"]], summary[live.orders["declined"]]
    cancelled, completed = summary[live.orders["cancelled"]], summary[live.orders["completed"]]
    assert (refunded["status"], refunded["total_cents"], refunded["customer_id"]) == ("completed", 750, "c-1")
    assert (refunded["payment_status"], refunded["captured_cents"], refunded["refunded_cents"]) == (
        "captured",
        750,
        100,
    )
    tracking_id = live.system.fulfillment.shipment_of(live.orders["refunded"]).tracking_id
    assert (refunded["shipment_status"], refunded["tracking_id"]) == ("shipped", tracking_id)
    assert [line["sku"] for line in refunded["lines"]] == ["APPLE", "BREAD"]
    assert (declined["status"], declined["payment_status"], declined["shipment_status"]) == (
        "failed",
        "declined",
        None,
    )
    assert (cancelled["status"], cancelled["payment_status"], cancelled["captured_cents"]) == (
        "cancelled",
        "voided",
        0,
    )
    assert (completed["status"], completed["payment_status"]) == ("completed", "captured")


def test_an_orders_history_holds_the_events_of_its_order_payment_and_shipment_in_time_order(
    live: Live,
) -> None:
    (summary,) = rows(
        live.settings, "SELECT history FROM order_summary WHERE order_id = %s", live.orders["refunded"]
    )
    history = summary["history"]
    expected = sorted(
        (event.occurred_at, event.event_type)
        for event in live.published
        if event.context != "inventory" and str(live.orders["refunded"]) == event.data["order_id"]
    )
    assert [(entry["occurred_at"], entry["event_type"]) for entry in history] == [
        (at.isoformat(), event_type) for at, event_type in expected
    ]
    assert {"OrderPlaced", "PaymentCaptured", "ShipmentShipped", "PaymentRefunded"} <= {
        e["event_type"] for e in history
    }


def test_stock_per_sku_equals_the_stock_items_in_the_event_store(live: Live) -> None:
    for row in rows(live.settings, "SELECT * FROM stock"):
        item = live.system.inventory.stock_item(row["sku"])
        assert (row["available"], row["reserved"], row["shipped"], row["restocked"]) == (
            item.available,
            item.reserved,
            item.shipped,
            item.restocked,
        )
        assert row["restocked"] == row["available"] + row["reserved"] + row["shipped"]  # I2
    assert {row["sku"] for row in rows(live.settings, "SELECT sku FROM stock")} == {"APPLE", "BREAD"}


def test_the_payment_ledger_has_one_row_per_payment_event_and_nets_what_was_captured(live: Live) -> None:
    payment_events = [event for event in live.published if event.context == "payments"]
    ledger = rows(live.settings, "SELECT * FROM payment_ledger")
    assert sorted(row["event_id"] for row in ledger) == sorted(event.event_id for event in payment_events)
    net = rows(
        live.settings,
        "SELECT order_id, sum(CASE kind WHEN 'captured' THEN amount_cents WHEN 'refunded' THEN -amount_cents"
        " ELSE 0 END) AS net FROM payment_ledger GROUP BY order_id",
    )
    assert {row["order_id"]: row["net"] for row in net} == {
        live.orders["refunded"]: 650,
        live.orders["declined"]: 0,
        live.orders["cancelled"]: 0,
        live.orders["completed"]: 250,
    }


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_replaying_from_offset_0_changes_no_read_model_and_skips_every_record_as_a_duplicate(
    live: Live, name: str
) -> None:
    projection = PROJECTIONS[name]
    before = counts_of(live.settings, projection)

    outcome = replay_from_kafka(live.settings, projection)

    records = live.records_for(projection)
    assert outcome.counts == Counts(duplicates_skipped=records)
    assert outcome.checksum == live.checksums[name]
    assert counts_of(live.settings, projection).duplicates_skipped == before.duplicates_skipped + records


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
@pytest.mark.parametrize("source", ["kafka", "events"])
def test_a_rebuild_equals_the_live_read_model(
    live: Live, name: str, source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable, value in environment(live.settings).items():
        monkeypatch.setenv(variable, value)

    assert main(["projections", "rebuild", name, "--from", source]) == 0

    assert checksum_of(live.settings, PROJECTIONS[name]) == live.checksums[name]
    assert counts_of(live.settings, PROJECTIONS[name]) == Counts(applied=live.records_for(PROJECTIONS[name]))
    assert f"checksum {live.checksums[name]}" in capsys.readouterr().out


def test_a_dry_run_rebuild_tells_a_drifted_read_model_apart_and_changes_nothing(live: Live) -> None:
    stock = PROJECTIONS["stock"]
    drift = "UPDATE stock SET available = available + %s WHERE sku = 'APPLE'"
    with connect(live.settings) as conn:
        conn.execute(drift, (1,))
    try:
        outcome = rebuild_from_events(live.settings, stock, applications(live.system), dry_run=True)

        assert outcome.checksum == live.checksums["stock"]
        assert outcome.before == checksum_of(live.settings, stock) != live.checksums["stock"]
    finally:
        with connect(live.settings) as conn:
            conn.execute(drift, (-1,))
