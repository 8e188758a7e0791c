"""The saga as its process runs it (`services.cli.saga.run`): a Kafka consumer group over the
four topics, real PostgreSQL behind every context, and gateway workers performing the calls
to a provider and a carrier kept in memory, so that a test can count what they did. The
relay is built separately, so a small stand-in publishes the contexts' stored events here,
as documented: keyed by aggregate id, with the envelope's headers. Outcomes are read from
the event store, the command logs, the dead letters and the fakes at the edges."""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from psycopg import sql
from support.orders import ADDRESS, PRICE, place_order
from support.product import PRODUCT_CONTEXTS, product_steps

from domain.ids import payment_id, shipment_id, stock_item_id
from domain.inventory import RestockSku
from domain.orders import Order, OrderLine, OrderStatus, PlaceOrder
from infrastructure import kafka
from infrastructure.gateways.carrier import InMemoryCarrier
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.settings import Settings
from infrastructure.vault import memory_vault
from services.bootstrap import System, build
from services.cli import saga as saga_process
from services.gateway import GatewayOptions
from services.registry import CONTEXTS, REGISTRY

pytestmark = pytest.mark.integration


class StandInRelay:
    """Publishes every stored event not yet published, `copies` times each."""

    def __init__(self, settings: Settings, system: System, copies: int = 1) -> None:
        self.settings, self.copies = settings, copies
        self.producer = kafka.producer(settings, client_id="stand-in-relay")
        self.apps = dict(system.apps)
        self.positions = dict.fromkeys(self.apps, 0)
        self.ends: dict[TopicPartition, int] = {}  # next offset per partition, as acked

    def publish_new(self) -> int:
        sent = []
        for context, app in self.apps.items():
            topic = self.settings.topic(context)
            for notification in app.recorder.select_notifications(self.positions[context] + 1, 500):
                event = REGISTRY.to_integration_event(
                    context, app.mapper.to_domain_event(notification), notification.id
                )
                for _ in range(self.copies):
                    sent.append(self.producer.send(topic, event.to_bytes(), event.key, event.headers()))
                self.positions[context] = notification.id
        for future in sent:
            acked = future.get(timeout=10)
            partition = TopicPartition(acked.topic, acked.partition)
            self.ends[partition] = max(self.ends.get(partition, 0), acked.offset + 1)
        return len(sent)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.publish_new():
                stop.wait(0.05)


@pytest.fixture
def settings(database_url: str, kafka_bootstrap_servers: str) -> Iterator[Settings]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        postgres_schema=f"t_{uuid4().hex[:12]}",
        kafka_topic_prefix=f"t{uuid4().hex[:8]}.",
    )
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    admin.create_topics(
        [NewTopic(settings.topic(c), num_partitions=2, replication_factor=1) for c in CONTEXTS]
    )
    admin.close()
    yield settings
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.postgres_schema))
        )


@pytest.fixture
def provider() -> InMemoryPaymentProvider:
    return InMemoryPaymentProvider()


@pytest.fixture
def carrier() -> InMemoryCarrier:
    return InMemoryCarrier()


@pytest.fixture
def running(
    settings: Settings, system: System, provider: InMemoryPaymentProvider, carrier: InMemoryCarrier
) -> Iterator[Callable[[int], StandInRelay]]:
    """Start the saga process and a stand-in relay publishing each record `copies` times;
    on the way out, both must stop cleanly and the saga exit with 0."""
    stop = threading.Event()
    exit_codes: list[int] = []
    relays: list[StandInRelay] = []
    threads: list[threading.Thread] = []

    edges = build(settings, provider, carrier)  # what the gateway workers call

    def saga() -> None:
        exit_codes.append(saga_process.run(settings, stop, timedelta(seconds=120)))

    def start(copies: int) -> StandInRelay:
        relays.append(relay := StandInRelay(settings, system, copies))
        threads.extend([threading.Thread(target=saga), threading.Thread(target=relay.run, args=(stop,))])
        gateways = edges.gateways(GatewayOptions(workers=4, backoff_s=0.05, poll_s=0.05))
        threads.extend(threading.Thread(target=gateway.run, args=(stop,)) for gateway in gateways)
        for thread in threads:
            thread.start()
        return relay

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    for relay in relays:
        relay.producer.close()
    edges.close()
    assert not any(thread.is_alive() for thread in threads)
    assert exit_codes == [0]


def restock(system: System, sku: str, quantity: int) -> None:
    system.inventory.execute(RestockSku(command_id=f"restock-{sku}", sku=sku, quantity=quantity))


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting: {what}"
        time.sleep(0.05)


def topics(system: System, aggregate_id: UUID) -> list[str]:
    """The event types an aggregate has stored, in order, from whichever context holds it."""
    for app in system.contexts:
        events = app.recorder.select_events(aggregate_id)
        if events:
            return [event.topic.removesuffix(".v1") for event in events]
    return []


def events_stored(system: System) -> dict[str, int | None]:
    return {app.name: app.recorder.max_notification_id() for app in system.contexts}


def commands_recorded(settings: Settings) -> dict[str, Counter[str]]:
    """Per context, the command types its command log holds: a second effect adds a row."""
    recorded: dict[str, Counter[str]] = {}
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        for context in PRODUCT_CONTEXTS:  # a generated context records its own commands besides
            table = sql.Identifier(settings.postgres_schema, f"{context}_commands")
            rows = conn.execute(sql.SQL("SELECT command_type FROM {}").format(table)).fetchall()
            recorded[context] = Counter(command_type for (command_type,) in rows)
    return recorded


def saga_lag(settings: Settings, relay: StandInRelay) -> int:
    """Records the relay had acked that the saga's group has not committed yet. (The local
    broker's end offsets are one short, so the relay's acks are the reference.)"""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group("saga"),
        enable_auto_commit=False,
    )
    try:
        return sum(max(0, end - (consumer.committed(tp) or 0)) for tp, end in relay.ends.items())
    finally:
        consumer.close()


def is_terminal(system: System, order_id: UUID) -> bool:
    return system.orders.order(order_id).is_terminal


def test_over_kafka_an_order_completes_and_a_declined_one_fails_with_its_stock_released_once(
    system: System, provider: InMemoryPaymentProvider, running: Callable[[int], StandInRelay]
) -> None:
    sku = f"SKU-{uuid4().hex[:8]}"
    restock(system, sku, 10)
    completes, declined = place_order(system, sku, 2), place_order(system, sku, 3, token="tok_decline")
    running(1)
    wait_for(lambda: is_terminal(system, completes) and is_terminal(system, declined), "both orders to end")
    wait_for(lambda: system.orders.order(declined).compensations != [], "the decline to be compensated")

    assert system.orders.order(completes).status is OrderStatus.COMPLETED
    assert provider.operations("authorize") == [(f"{payment_id(completes)}:authorize", 2500)]
    assert provider.operations("capture") == [(f"{payment_id(completes)}:capture", 2500)]
    failed = system.orders.order(declined)
    assert (failed.status, failed.reason, product_steps(failed.compensations)) == (
        OrderStatus.FAILED,
        "payment declined",
        ["stock_released"],
    )
    assert Counter(topics(system, stock_item_id(sku)))["StockReleased"] == 1
    stock = system.inventory.stock_item(sku)
    assert (stock.available, stock.reserved, stock.shipped) == (8, 0, 2)


def test_over_kafka_every_record_delivered_twice_and_all_again_later_causes_no_second_effect(
    settings: Settings,
    system: System,
    provider: InMemoryPaymentProvider,
    carrier: InMemoryCarrier,
    running: Callable[[int], StandInRelay],
) -> None:
    sku = f"SKU-{uuid4().hex[:8]}"
    restock(system, sku, 10)
    order_id = place_order(system, sku, 1)
    relay = running(2)
    wait_for(lambda: is_terminal(system, order_id), "the order to end")
    wait_for(lambda: saga_lag(settings, relay) == 0, "the saga to consume every copy")
    before = commands_recorded(settings), events_stored(system)

    published = sum(relay.ends.values())
    relay.positions = dict.fromkeys(relay.positions, 0)  # publish the whole history once more
    wait_for(lambda: sum(relay.ends.values()) > published, "the history to be published again")
    wait_for(lambda: saga_lag(settings, relay) == 0, "the saga to consume it")

    assert (commands_recorded(settings), events_stored(system)) == before  # nothing new stored
    assert before[0] == {  # one command per step, though every event came at least three times
        "orders": {"PlaceOrder": 1, "AdvanceOrder": 5},
        "inventory": {"RestockSku": 1, "ReserveStock": 1, "ShipStock": 1},
        "payments": {"AuthorizePayment": 1, "CapturePayment": 1, "RecordProviderAnswer": 2},
        "fulfillment": {"RequestShipment": 1, "HandOverShipment": 1, "RecordCarrierAnswer": 2},
    }
    assert topics(system, order_id) == [
        "OrderPlaced",
        "OrderStockReserved",
        "OrderPaymentAuthorized",
        "OrderFulfillmentRequested",
        "OrderShipped",
        "OrderCompleted",
    ]
    assert topics(system, payment_id(order_id)) == [
        "PaymentRequested",
        "PaymentAuthorized",
        "PaymentCaptureRequested",
        "PaymentCaptured",
    ]
    assert topics(system, shipment_id(order_id)) == [
        "ShipmentRequested",
        "ShipmentBooked",
        "ShipmentHandOverRequested",
        "ShipmentShipped",
    ]
    assert [len(provider.operations(op)) for op in ("authorize", "capture")] == [1, 1]
    assert len(carrier.bookings()) == 1


def test_over_kafka_a_lost_authorization_answer_is_asked_again_and_charged_once(
    system: System, provider: InMemoryPaymentProvider, running: Callable[[int], StandInRelay]
) -> None:
    sku = f"SKU-{uuid4().hex[:8]}"
    restock(system, sku, 10)
    order_id = place_order(system, sku, 1)
    provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    running(1)
    wait_for(lambda: is_terminal(system, order_id), "the order to end")

    assert system.orders.order(order_id).status is OrderStatus.COMPLETED
    assert provider.operations("authorize") == [(f"{payment_id(order_id)}:authorize", 1250)]
    assert topics(system, payment_id(order_id)) == [
        "PaymentRequested",
        "PaymentAuthorized",
        "PaymentCaptureRequested",
        "PaymentCaptured",
    ]


def test_over_kafka_a_record_the_saga_cannot_act_on_is_parked_and_the_partition_moves_on(
    settings: Settings, system: System, running: Callable[[int], StandInRelay]
) -> None:
    """A malformed record and an event about no order are dead letters: they are parked with
    their reason while the orders behind them on the same partitions complete."""
    sku = f"SKU-{uuid4().hex[:8]}"
    restock(system, sku, 10)
    relay = running(1)
    topic = settings.topic("orders")
    for partition in (0, 1):  # on every partition, ahead of the order
        relay.producer.send(topic, b"{not json", partition=partition).get(timeout=10)
    ghost = REGISTRY.to_integration_event("orders", stored_event_of_an_order_nobody_placed(), 1)
    relay.producer.send(topic, ghost.to_bytes(), ghost.key, ghost.headers()).get(timeout=10)
    order_id = place_order(system, sku, 1)
    wait_for(lambda: is_terminal(system, order_id), "the order behind the poison to end")

    assert system.orders.order(order_id).status is OrderStatus.COMPLETED
    wait_for(lambda: len(saga_dead_letters(settings)) == 3, "three dead letters")
    reasons = sorted(saga_dead_letters(settings))
    assert [reason.split(":")[0] for reason in reasons] == [
        "UnknownOrderError",
        "unreadable",
        "unreadable",
    ]


def stored_event_of_an_order_nobody_placed() -> object:
    """An OrderPlaced as the relay would publish it, for an order no event store holds."""
    command = PlaceOrder(
        command_id="ghost", order_id=uuid4(), customer_id="c", currency="EUR",
        lines=(OrderLine("GHOST", 1, PRICE),), shipping_address=ADDRESS, payment_token="tok_ok",
    )  # fmt: skip
    return Order.place(command, is_known_sku=lambda _: True, vault=memory_vault()).collect_events()[0]


def saga_dead_letters(settings: Settings) -> list[str]:
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        table = sql.Identifier(settings.postgres_schema, "projection_dead_letters")
        query = sql.SQL("SELECT error FROM {} WHERE projection = 'saga' AND status = 'open'").format(table)
        return [error for (error,) in conn.execute(query).fetchall()]
