"""The metrics count what really happens, where it happens: a command answered from the log,
an HTTP request answered from its key's stored response, a webhook's copy, a record the saga
handled before, a call with no answer, a deadline fired. Each test builds the system on
metrics of its own (`Metrics()`), so that it counts from zero."""

import json
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from kafka.structs import TopicPartition
from support.api import api_client, headers, key, order_body, restock

from domain.errors import CommandIdReusedError, InsufficientStockError
from domain.ids import payment_id
from domain.inventory import ReserveStock, RestockSku
from domain.orders import OrderStatus
from domain.ports import Deadline
from infrastructure.consuming import ConsumerLag
from infrastructure.contracts import IntegrationEvent
from infrastructure.deadlines import InMemoryDeadlineStore
from infrastructure.gateways.carrier import InMemoryCarrier
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.metrics import LAYERS, Metrics
from infrastructure.relay import Relay
from infrastructure.relay.publisher import PublishError
from infrastructure.settings import Settings
from infrastructure.supervisor import Supervisor
from services.bootstrap import System, build
from services.cli import metrics as cli_metrics
from services.cli import run
from services.gateway import GatewayOptions
from services.saga import DeadlineScheduler, OrderSaga, Pump, SoleLeadership
from services.saga.in_flight import InFlight

from .saga_world import World
from .scenario import unique
from .test_api_webhooks import deliver, event


def value(system: System, name: str, **labels: str) -> float:
    return system.metrics.registry.get_sample_value(name, labels) or 0.0


def duplicates(system: System, layer: str) -> float:
    return value(system, "orders_duplicates_absorbed_total", layer=layer)


def test_every_layer_is_shown_from_the_start_at_zero() -> None:
    text = Metrics().render().decode()
    for layer in LAYERS:
        assert f'orders_duplicates_absorbed_total{{layer="{layer}"}} 0.0' in text
    assert 'orders_reconciliation_differences{kind="payment"} 0.0' in text


def test_a_replayed_command_counts_a_duplicate_absorbed_by_the_command_log(system: System) -> None:
    restock_sku = RestockSku(command_id=unique("restock"), sku=unique("SKU"), quantity=3)
    system.inventory.execute(restock_sku)
    assert duplicates(system, "command_log") == 0

    assert system.inventory.execute(restock_sku).replayed
    assert duplicates(system, "command_log") == 1


def test_a_replayed_refusal_counts_too_and_a_reused_command_id_does_not(system: System) -> None:
    sku = unique("SKU")
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=1))
    reserve = ReserveStock(command_id=unique("reserve"), order_id=uuid4(), lines=((sku, 5),))
    for _ in range(2):
        with pytest.raises(InsufficientStockError):
            system.inventory.execute(reserve)
    assert duplicates(system, "command_log") == 1

    with pytest.raises(CommandIdReusedError):
        system.inventory.execute(replace(reserve, lines=((sku, 1),)))
    assert duplicates(system, "command_log") == 1


def test_an_http_replay_counts_at_the_http_layer_and_executes_once(system: System) -> None:
    api = api_client(system)
    same = headers(key())
    for _ in range(3):
        assert api.post("/v1/inventory/SKU-1/restock", json={"quantity": 1}, headers=same).status_code == 200

    assert duplicates(system, "http_replay") == 2
    assert value(system, "orders_api_idempotency_total", outcome="executed") == 1
    assert duplicates(system, "command_log") == 0, "the stored response answered: no command ran again"
    text = api.get("/metrics").text
    assert 'orders_duplicates_absorbed_total{layer="http_replay"} 2.0' in text


def test_a_key_reused_for_another_body_counts_a_key_reuse_not_a_duplicate(system: System) -> None:
    api = api_client(system)
    restock(api, "SKU-9")
    same = headers(key())
    assert api.post("/v1/orders", json=order_body("SKU-9"), headers=same).status_code == 201
    assert api.post("/v1/orders", json=order_body("SKU-9", quantity=3), headers=same).status_code == 422

    assert value(system, "orders_idempotency_key_reuse_total") == 1
    assert duplicates(system, "http_replay") == 0


def test_a_request_whose_key_is_still_running_counts_as_in_flight(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = api_client(system)
    running, retries = headers(key()), []
    execute = system.inventory.execute

    def execute_while_the_client_retries(command: Any, **options: Any) -> Any:
        retries.append(api.post("/v1/inventory/SKU-2/restock", json={"quantity": 1}, headers=running))
        return execute(command, **options)

    monkeypatch.setattr(system.inventory, "execute", execute_while_the_client_retries)
    assert api.post("/v1/inventory/SKU-2/restock", json={"quantity": 1}, headers=running).status_code == 200
    assert [retry.status_code for retry in retries] == [409]
    assert duplicates(system, "http_in_flight") == 1


def test_a_webhook_s_copy_counts_at_the_webhook_layer(system: System) -> None:
    api = api_client(system)
    body = json.dumps(event()).encode()
    assert deliver(api, body).json() == {"status": "accepted"}
    assert deliver(api, body).json() == {"status": "duplicate"}

    assert duplicates(system, "webhook") == 1
    assert value(system, "orders_api_webhooks_total", outcome="duplicate") == 1


def make_world(handle_twice: bool = False) -> World:
    provider, carrier, deadlines = InMemoryPaymentProvider(), InMemoryCarrier(), InMemoryDeadlineStore()
    system = build(Settings(database_url=None), provider=provider, carrier=carrier, metrics=Metrics())
    saga = OrderSaga(system, deadlines)

    def twice(event: IntegrationEvent) -> None:  # each record again, as after a crash before its commit
        saga.handle(event)
        saga.handle(event)

    pump = Pump(system, twice if handle_twice else saga.handle)
    return World(system, provider, carrier, deadlines, saga, pump)


@pytest.fixture
def world() -> World:
    return make_world()


def test_a_record_the_saga_handled_before_counts_as_absorbed_by_the_consumer() -> None:
    once, twice = make_world(), make_world(handle_twice=True)
    for world in (once, twice):
        world.restock(sku := unique("SKU"), 5)
        order_id = world.place({sku: 1})
        world.pump.drain()
        assert world.order(order_id).status is OrderStatus.COMPLETED

    assert duplicates(once.system, "consumer") == 0
    commanding = duplicates(twice.system, "consumer")  # the records that make the saga send commands
    assert commanding >= 5
    assert duplicates(twice.system, "command_log") >= commanding


def test_the_saga_counts_an_order_in_flight_until_it_ends(world: World) -> None:
    world.restock(sku := unique("SKU"), 5)
    order_id = world.place({sku: 1})
    world.pump.drain(until=lambda: world.order(order_id).status is OrderStatus.PAID)
    assert world.saga.in_flight.count() == 1
    assert 0 < world.saga.in_flight.oldest_age_s() < 60

    world.pump.drain()
    assert world.order(order_id).status is OrderStatus.COMPLETED
    assert (world.saga.in_flight.count(), world.saga.in_flight.oldest_age_s()) == (0, 0.0)


def test_in_flight_ages_from_the_order_s_placement() -> None:
    clock = [1_000.0]
    tracked = InFlight(clock=lambda: clock[0])

    class Seen:
        def __init__(self, placed_at: float, terminal: bool = False) -> None:
            self.id = uuid4()
            self.created_on = datetime.fromtimestamp(placed_at, UTC)
            self.is_terminal = terminal

    old, new = Seen(900.0), Seen(990.0)
    tracked.saw(old)  # type: ignore[arg-type]
    tracked.saw(new)  # type: ignore[arg-type]
    assert (tracked.count(), tracked.oldest_age_s()) == (2, 100.0)
    old.is_terminal = True
    tracked.saw(old)  # type: ignore[arg-type]
    assert (tracked.count(), tracked.oldest_age_s()) == (1, 10.0)


def test_a_call_without_an_answer_counts_a_retry_and_an_unknown_outcome(world: World) -> None:
    world.restock(sku := unique("SKU"), 5)
    order_id = world.place({sku: 1})
    world.provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    gateways = world.system.gateways(GatewayOptions(backoff_s=0.0, lease_s=0.0))
    while world.pump.drain() or any(gateway.perform_due() for gateway in gateways):
        pass

    assert world.order(order_id).status is OrderStatus.COMPLETED
    assert value(world.system, "orders_gateway_retries_total", context="payments") == 1
    assert value(world.system, "orders_gateway_unknown_outcomes_total", context="payments") == 1
    assert value(world.system, "orders_gateway_retries_total", context="fulfillment") == 0


def test_each_deadline_fired_is_counted_by_what_became_of_it(world: World) -> None:
    fired: list[str] = []
    scheduler = DeadlineScheduler(world.deadlines, world.system.orders, SoleLeadership(), fired=fired.append)
    world.restock(sku := unique("SKU"), 5)
    in_time = world.place({sku: 1})
    world.pump.drain()
    late = world.place({sku: 1})  # placed, and never taken further
    now = datetime.now(UTC)
    for order_id in (late, in_time):
        world.deadlines.schedule(Deadline(order_id, "test", now - timedelta(seconds=1), "c"))

    scheduler.fire_due(now)
    assert sorted(fired) == ["failed", "in_time"]
    assert world.order(late).status is OrderStatus.FAILED


class FakeConsumer:
    """What `ConsumerLag` asks of a KafkaConsumer."""

    def __init__(self) -> None:
        self.parts = {TopicPartition("orders.events", 0), TopicPartition("orders.events", 1)}
        self.ends = {TopicPartition("orders.events", 0): 10, TopicPartition("orders.events", 1): 7}
        self.asked_committed: list[TopicPartition] = []

    def assignment(self) -> set[TopicPartition]:
        return self.parts

    def committed(self, tp: TopicPartition, timeout_ms: int) -> int | None:
        self.asked_committed.append(tp)
        return 4 if tp.partition == 0 else None

    def beginning_offsets(self, parts: list[TopicPartition], timeout_ms: int) -> dict[TopicPartition, int]:
        return dict.fromkeys(parts, 0)

    def end_offsets(self, parts: list[TopicPartition], timeout_ms: int) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in parts}


def test_the_consumer_lag_is_the_end_offsets_less_the_committed_ones() -> None:
    consumer, metrics = FakeConsumer(), Metrics()
    lag = ConsumerLag(consumer, "saga", metrics, every_s=0.0)  # type: ignore[arg-type]

    lag.measure_if_due()
    assert metrics.registry.get_sample_value("orders_consumer_lag_records", {"group": "saga"}) == 6 + 7

    lag.committed({TopicPartition("orders.events", 0): 10, TopicPartition("orders.events", 1): 5})
    consumer.asked_committed.clear()
    lag.measure_if_due()
    assert metrics.registry.get_sample_value("orders_consumer_lag_records", {"group": "saga"}) == 2
    assert consumer.asked_committed == [], "what it committed itself, it knows"


def test_orders_run_gives_each_child_but_the_api_a_metrics_port_of_its_own(tmp_path: Path) -> None:
    settings = Settings(metrics_port=9300, devstack_dir=tmp_path)
    supervisor = run.supervisor(settings, {}, say=lambda _: None, saga_workers=2)
    ports = {child.name: child.env.get("ORDERS_METRICS_PORT") for child in supervisor.children}
    assert ports.pop("api") is None
    assert sorted(map(int, ports.values())) == list(range(9300, 9300 + len(ports)))
    assert set(ports) == {name for name, _ in run.children(2)} - {"api"}
    urls = run.metrics_urls(settings, 2)
    assert urls["api"] == "http://127.0.0.1:8000/metrics"
    assert urls["saga-2"] == f"http://127.0.0.1:{ports['saga-2']}/metrics"


def test_without_a_metrics_port_no_child_serves_them(tmp_path: Path) -> None:
    settings = Settings(metrics_port=0, devstack_dir=tmp_path)
    supervisor: Supervisor = run.supervisor(settings, {"ORDERS_METRICS_PORT": "9100"}, say=lambda _: None)
    assert {c.env.get("ORDERS_METRICS_PORT") for c in supervisor.children if c.name != "api"} == {"0"}
    assert list(run.metrics_urls(settings)) == ["api"]


def test_metrics_ports_past_the_last_port_are_refused() -> None:
    with pytest.raises(ValueError, match="ORDERS_METRICS_PORT 65530 leaves no room"):
        run.metrics_ports(Settings(metrics_port=65_530), [name for name, _ in run.children()])


def test_a_taken_metrics_port_is_said_and_the_process_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cli_metrics.expose("relay", Settings(metrics_port=port))
    assert f"relay: metrics not served: port {port}" in capsys.readouterr().err


def test_a_served_registry_answers_a_scrape() -> None:
    metrics = Metrics()
    metrics.duplicates.labels(layer="provider").inc(3)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.serve(port, host="127.0.0.1")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'orders_duplicates_absorbed_total{layer="provider"} 3.0' in text


def test_the_relay_s_lag_in_seconds_is_the_wait_of_its_oldest_unpublished_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = build(Settings(database_url=None)).inventory
    app.execute(RestockSku(command_id=unique("restock"), sku=unique("SKU"), quantity=1))
    metrics = Metrics()
    relay = Relay(app.recorder, app.mapper.to_domain_event, "inventory", Settings(), metrics=metrics)  # type: ignore[arg-type]
    seconds = {"context": "inventory"}
    assert metrics.registry.get_sample_value("orders_relay_lag_seconds", seconds) == 0

    def broker_away(events: object) -> None:
        raise PublishError("no broker")

    monkeypatch.setattr(relay.leadership, "renew", lambda: None)
    monkeypatch.setattr(relay.publisher, "publish", broker_away)
    with pytest.raises(PublishError):
        relay.publish_batch()
    waited = metrics.registry.get_sample_value("orders_relay_lag_seconds", seconds) or 0.0
    assert 0 < waited < 60, "read, and not published: it waits from when it was stored"

    relay._standing_by()  # another relay took over
    assert metrics.registry.get_sample_value("orders_relay_lag_seconds", seconds) == 0
