"""`orders trace` on real records: orders driven on PostgreSQL by the saga, the provider and the
carrier simulators called over HTTP by the gateway's path (the clients `edges()` builds, which
record every attempt), the orders context's events published by the relay, and webhooks and
a cancellation through the HTTP API. The trace is read back through the command line."""

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from support.api import ACME, API_KEYS, WEBHOOK_SECRET, order_body
from support.isolation import environment, isolated_settings, wait_until
from support.relaying import FAST, Running
from support.simulators import Served, carrier_simulator, psp_simulator, serving

from domain.ids import payment_id, stock_item_id
from domain.inventory import RestockSku
from domain.money import Money
from domain.orders import OrderLine, OrderStatus, PlaceOrder, ShippingAddress
from infrastructure.command_log import PostgresCommandRecorder
from infrastructure.database import connect
from infrastructure.deadlines import PostgresDeadlineStore
from infrastructure.devstack.keys import generated
from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.relay import Relay
from infrastructure.settings import Settings
from infrastructure.simulators.psp import tokens
from infrastructure.webhook_store import PostgresWebhookStore
from services.api import ApiConfig, create_app
from services.bootstrap import System, build, edges
from services.cli import main
from services.ops.trace.store import OrderReader
from services.saga import OrderSaga, Pump

pytestmark = pytest.mark.integration

ADDRESS = ShippingAddress(name="Ada", line1="1 Main Street", city="Utrecht", postal_code="3511", country="NL")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    with isolated_settings(database_url, devstack_dir=tmp_path) as settings:
        yield settings


@pytest.fixture
def psp(database_url: str) -> Iterator[Served]:
    with psp_simulator(database_url) as served:
        yield served


@pytest.fixture
def carrier(database_url: str) -> Iterator[Served]:
    with carrier_simulator(database_url) as served:
        yield served


@pytest.fixture
def api(settings: Settings) -> Iterator[Served]:
    """The HTTP API, served on its own system as its process would be, keeping the provider's
    webhooks in PostgreSQL."""
    system, webhooks = build(settings), PostgresWebhookStore(settings)
    config = ApiConfig(api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET)
    try:
        with serving(create_app(system, InMemoryIdempotencyStore(), webhooks, config)) as served:
            yield served
    finally:
        system.close()
        webhooks.close()


@pytest.fixture
def signing_psp(database_url: str, api: Served) -> Iterator[Served]:
    """The provider simulator, sending its signed webhooks to the API."""
    url = f"{api.url}/v1/webhooks/psp"
    with psp_simulator(database_url, psp_webhook_url=url, psp_webhook_secret=WEBHOOK_SECRET) as served:
        yield served


@pytest.fixture
def deadlines(settings: Settings) -> Iterator[PostgresDeadlineStore]:
    store = PostgresDeadlineStore(settings)
    yield store
    store.close()


@pytest.fixture
def orders(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """`orders ARGS...` in process, on the test's settings (and variables given):
    (exit code, stdout, stderr)."""

    def run(*arguments: str, **variables: str) -> tuple[int, str, str]:
        for name, value in (environment(settings) | variables).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ORDERS_DEVSTACK_DIR", str(settings.devstack_dir))
        capsys.readouterr()
        code = main(list(arguments))
        shown = capsys.readouterr()
        return code, shown.out, shown.err

    return run


def test_a_lost_answer_shows_as_two_attempts_under_one_key_in_the_flow_of_its_request(
    settings: Settings,
    kafka_bootstrap_servers: str,
    psp: Served,
    carrier: Served,
    deadlines: PostgresDeadlineStore,
    orders: Callable[..., tuple[int, str, str]],
) -> None:
    settings = settings.replace(psp_url=psp.url, carrier_url=carrier.url, gateway_timeout_s=0.5)
    system = build(settings, *edges(settings))
    try:
        system.inventory.execute(RestockSku(command_id="restock-1", sku="SKU-1", quantity=5))
        order_id = place(system, tokens.TIMEOUT_AFTER_CHARGE, correlation_id="req-trace-test-1")
        saga(system, deadlines).drain(until=reached(system, order_id, OrderStatus.COMPLETED))
        publish_orders(system, settings.replace(kafka_bootstrap_servers=kafka_bootstrap_servers))
    finally:
        system.close()
    key = f"{payment_id(order_id)}:authorize"

    code, shown, _ = orders("trace", str(order_id), "--json")

    assert code == 0
    trace = json.loads(shown)
    [request] = trace["requests"]
    assert request["correlation_id"] == "req-trace-test-1"
    [(path, call)] = [(p, n) for p, n in walk(request) if n["kind"] == "call" and n["call_id"] == key]
    assert path == [
        "PlaceOrder",
        "OrderPlaced.v1",
        "AdvanceOrder",
        "OrderStockReserved.v1",
        "AuthorizePayment",
    ]
    attempts = [(n["number"], n["outcome"]) for n in call["children"] if n["kind"] == "attempt"]
    assert attempts == [(1, "timeout"), (2, "ok 200")]
    assert [n["type"] for n in call["children"] if n["kind"] == "command"] == ["RecordProviderAnswer"]
    assert {e["published"] for e in trace["events_by_context"]["orders"]} == {True}
    assert {e["published"] for e in trace["events_by_context"]["payments"]} == {False}
    assert [(e["type"], e["detail"]) for e in trace["events_by_context"]["inventory"]] == [
        ("StockReserved.v1", {"sku": "SKU-1", "quantity": 1}),
        ("StockShipped.v1", {"sku": "SKU-1", "quantity": 1}),
    ]
    [deadline] = [n for _, n in walk(request) if n["kind"] == "deadline"]
    assert deadline["fired_at"] is None

    code, shown, _ = orders("trace", str(order_id))

    assert code == 0
    assert "request req-trace-test-1 (correlation id)" in shown
    assert f"call authorize answered after 2 claims payments key {key}" in shown
    assert "attempt 1: timeout" in shown and "attempt 2: ok 200" in shown
    assert "PaymentRequested v1 not yet published" in shown and "OrderPlaced v1 not" not in shown


def test_through_the_api_each_request_id_leads_its_branch_with_the_webhooks_under_their_calls(
    settings: Settings,
    api: Served,
    signing_psp: Served,
    carrier: Served,
    deadlines: PostgresDeadlineStore,
    orders: Callable[..., tuple[int, str, str]],
) -> None:
    calling = settings.replace(psp_url=signing_psp.url, carrier_url=carrier.url)
    system = build(calling, *edges(calling))  # the saga's and the gateway's, as their processes build it
    try:
        post(api, "/v1/inventory/SKU-1/restock", {"quantity": 5}, "req-restock")
        placed = post(api, "/v1/orders", order_body("SKU-1", payment={"token": tokens.OK}), "req-place")
        order_id = UUID(placed["order_id"])
        pump = saga(system, deadlines)
        pump.drain(until=reached(system, order_id, OrderStatus.PAID))
        post(api, f"/v1/orders/{order_id}/cancel", {"reason": "changed my mind"}, "req-cancel")
        pump.drain(until=lambda: len(system.orders.order(order_id).compensations) == 2)
    finally:
        system.close()
    wait_until(lambda: webhooks_of(settings, order_id) >= 2 or None, "the provider's webhooks")

    code, shown, _ = orders("trace", str(order_id), "--json")

    assert code == 0
    trace = json.loads(shown)
    assert [r["correlation_id"] for r in trace["requests"]] == ["req-place", "req-cancel"]
    place_request, cancel_request = trace["requests"]
    [authorize] = [n for _, n in walk(place_request) if n["kind"] == "call"]
    assert [n["type"] for n in authorize["children"] if n["kind"] == "webhook"] == ["payment.authorized"]
    undone = [(path[-1], n) for path, n in walk(cancel_request) if n["kind"] == "call"]
    assert [(cause, call["operation"]) for cause, call in undone] == [("VoidPayment", "void")]
    [void] = [call for _, call in undone]
    assert [n["type"] for n in void["children"] if n["kind"] == "webhook"] == ["payment.voided"]
    roles = sorted(n["role"] for _, n in walk(cancel_request) if n["kind"] == "command" and n["role"])
    assert roles == [
        "payment_voided recorded",
        "stock_released recorded",
        "undo payment_voided",
        "undo stock_released",
    ]


def test_an_order_that_is_not_there_is_said_in_one_line_and_builds_nothing(
    settings: Settings, orders: Callable[..., tuple[int, str, str]]
) -> None:
    unknown = uuid.uuid4()

    code, shown, error = orders("trace", str(unknown))

    assert code == 1 and shown == ""
    assert error == f"orders: error: no order {unknown} in {described(settings)}\n"
    with psycopg.connect(settings.database_url or "") as conn:
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (settings.postgres_schema,))
        assert found.fetchone() is None, "the trace created the schema it was pointed at"

    build(settings).close()  # now the schema and the system's tables exist, and still no such order
    assert orders("trace", str(unknown))[:2] == (1, "")


def test_events_stored_under_another_cipher_key_are_said_undecodable_in_one_line(
    settings: Settings, orders: Callable[..., tuple[int, str, str]]
) -> None:
    system = build(settings)
    try:
        system.inventory.execute(RestockSku(command_id="restock-1", sku="SKU-1", quantity=5))
        order_id = place(system, tokens.OK, correlation_id="req-trace-test-3")
    finally:
        system.close()

    code, shown, error = orders("trace", str(order_id), ORDERS_CIPHER_KEY=generated()["ORDERS_CIPHER_KEY"])

    assert (code, shown, error.count("\n")) == (1, "", 1)
    assert error.startswith("orders: error: cannot decode the order's events: ")
    assert error.endswith("(is ORDERS_CIPHER_KEY the key they were stored with?)\n")


def test_a_stock_items_history_is_read_from_the_first_version_at_a_time(settings: Settings) -> None:
    system = build(settings)
    try:
        for n in range(12):
            system.inventory.execute(RestockSku(command_id=f"restock-{n}", sku="SKU-1", quantity=1))
        events = list(system.inventory.recorder.select_events(stock_item_id("SKU-1")))
        stamps = [system.inventory.mapper.to_domain_event(stored).timestamp for stored in events]
        with connect(settings) as conn:
            reader = OrderReader(system, conn)
            found = [reader.first_version_at(stock_item_id("SKU-1"), stamp) for stamp in stamps]
            after = reader.first_version_at(stock_item_id("SKU-1"), stamps[-1] + timedelta(microseconds=1))
            before = reader.first_version_at(stock_item_id("SKU-1"), stamps[0] - timedelta(days=1))
    finally:
        system.close()

    first_at = [next(version for version, t in enumerate(stamps, 1) if t >= stamp) for stamp in stamps]
    assert found == first_at and first_at[-1] == len(stamps) == 13 and (before, after) == (1, 14)


def place(system: System, token: str, correlation_id: str) -> UUID:
    order_id = uuid.uuid4()
    system.orders.execute(
        PlaceOrder(
            command_id=f"place-{order_id}",
            correlation_id=correlation_id,
            order_id=order_id,
            customer_id="customer-1",
            currency="EUR",
            lines=(OrderLine("SKU-1", 1, Money(900, "EUR")),),
            shipping_address=ADDRESS,
            payment_token=token,
        )
    )
    return order_id


def saga(system: System, deadlines: PostgresDeadlineStore) -> Pump:
    """The saga, and the gateway's calls when no event is left, driven in this thread."""
    return Pump(system, OrderSaga(system, deadlines, complete_within=timedelta(minutes=2)).handle)


def reached(system: System, order_id: UUID, status: OrderStatus) -> Callable[[], bool]:
    return lambda: system.orders.order(order_id).status is status


def publish_orders(system: System, settings: Settings) -> None:
    """Run the orders context's relay until it has published every event stored."""
    app, recorder = system.orders, cast(PostgresCommandRecorder, system.orders.recorder)
    relay = Relay(recorder, app.mapper.to_domain_event, "orders", settings, FAST)
    last = recorder.max_notification_id() or 0
    with Running(relay):
        wait_until(lambda: relay.position >= last or None, "the relay to publish the orders")


def post(api: Served, path: str, body: dict[str, Any], request_id: str) -> Any:
    headers = {**ACME, "Idempotency-Key": uuid.uuid4().hex, "X-Request-ID": request_id}
    answer = httpx.post(f"{api.url}{path}", json=body, headers=headers, timeout=10)
    assert answer.is_success, answer.text
    return answer.json()


def webhooks_of(settings: Settings, order_id: UUID) -> int:
    query = sql.SQL("SELECT count(*) FROM {}.psp_webhooks WHERE order_id = %s")
    with psycopg.connect(settings.database_url or "") as conn:
        row = conn.execute(
            query.format(sql.Identifier(settings.postgres_schema)), (str(order_id),)
        ).fetchone()
    return int(row[0]) if row else 0


def walk(node: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[list[str], dict[str, Any]]]:
    """Every node below `node`, with the command and event types on the way to it."""
    for child in node["children"]:
        yield list(path), child
        yield from walk(child, (*path, child["type"]) if child["kind"] in ("command", "event") else path)


def described(settings: Settings) -> str:
    url = conninfo_to_dict(settings.database_url or "")
    return f"database {url['dbname']} on {url['host']}:{url['port']}, schema {settings.postgres_schema}"
