"""Deadlines in PostgreSQL: one row per (order, kind), never due again once fired, and one
active scheduler at a time, elected by an advisory lock."""

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from domain.inventory import RestockSku
from domain.money import Money
from domain.orders import OrderLine, OrderStatus, PlaceOrder, ShippingAddress
from domain.ports import Deadline
from infrastructure.deadlines import AdvisoryLeadership, PostgresDeadlineStore
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.saga import DeadlineScheduler, OrderSaga, Pump

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def fresh_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, postgres_schema=f"t_{uuid4().hex[:12]}")


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    settings = fresh_settings(database_url)
    yield settings
    drop(settings)


def drop(settings: Settings) -> None:
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.postgres_schema))
        )


@pytest.fixture
def store(settings: Settings) -> Iterator[PostgresDeadlineStore]:
    store = PostgresDeadlineStore(settings)
    yield store
    store.close()


@pytest.fixture
def system(settings: Settings) -> Iterator[System]:
    system = build(settings)
    yield system
    system.close()


def deadline(due_at: datetime = NOW) -> Deadline:
    return Deadline(uuid4(), "complete-by", due_at, "flow-1")


def test_scheduling_a_deadline_again_keeps_the_first_one(store: PostgresDeadlineStore) -> None:
    first = deadline()
    store.schedule(first)
    store.schedule(Deadline(first.order_id, first.kind, NOW + timedelta(hours=1), "another-flow"))
    assert store.due(NOW + timedelta(days=1), limit=10) == [first]


def test_a_deadline_is_due_from_its_time_until_it_is_marked_fired(store: PostgresDeadlineStore) -> None:
    store.schedule(first := deadline())
    assert store.due(NOW - timedelta(microseconds=1), limit=10) == []
    assert store.due(NOW, limit=10) == [first]
    store.mark_fired(first, NOW)
    assert store.due(NOW + timedelta(days=1), limit=10) == []


def test_creating_the_table_twice_is_harmless(settings: Settings, store: PostgresDeadlineStore) -> None:
    store.schedule(first := deadline())
    PostgresDeadlineStore(settings).close()
    assert store.due(NOW, limit=10) == [first]


def test_one_scheduler_leads_and_a_standby_takes_over_when_it_goes(settings: Settings) -> None:
    leader, standby = AdvisoryLeadership(settings, "deadlines"), AdvisoryLeadership(settings, "deadlines")
    try:
        assert (leader.hold(), standby.hold(), leader.hold()) == (True, False, True)
        leader.release()  # as a crash would: the session ends
        assert (standby.hold(), leader.hold()) == (True, False)
    finally:
        leader.release()
        standby.release()


def test_a_leader_whose_session_the_server_ends_loses_the_lock_to_the_standby(settings: Settings) -> None:
    leader, standby = AdvisoryLeadership(settings, "deadlines"), AdvisoryLeadership(settings, "deadlines")
    try:
        assert (leader.hold(), standby.hold()) == (True, False)
        with psycopg.connect(settings.database_url or "", autocommit=True) as admin:
            admin.execute(  # a bigint advisory key is stored as two 32-bit halves
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 1",
                ((leader.key >> 32) & 0xFFFFFFFF, leader.key & 0xFFFFFFFF),
            )
        assert (leader.hold(), standby.hold()) == (False, True)
    finally:
        leader.release()
        standby.release()


def test_schedulers_of_another_schema_elect_their_own_leader(settings: Settings, database_url: str) -> None:
    other = fresh_settings(database_url)
    here, there = AdvisoryLeadership(settings, "deadlines"), AdvisoryLeadership(other, "deadlines")
    try:
        assert (here.hold(), there.hold()) == (True, True)
    finally:
        here.release()
        there.release()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting: {what}"
        time.sleep(0.02)


def test_two_running_schedulers_fail_a_late_order_once(
    settings: Settings, system: System, store: PostgresDeadlineStore
) -> None:
    system.inventory.execute(RestockSku(command_id="restock", sku="SKU-1", quantity=5))
    order_id = uuid4()
    address = ShippingAddress(
        name="Ada", line1="1 Main Street", city="Utrecht", postal_code="3511", country="NL"
    )
    system.orders.execute(
        PlaceOrder(
            command_id="place",
            order_id=order_id,
            customer_id="customer-1",
            currency="EUR",
            lines=(OrderLine("SKU-1", 1, Money(900, "EUR")),),
            shipping_address=address,
            payment_token="tok_ok",
        )
    )
    saga = OrderSaga(system, store, complete_within=timedelta(seconds=1))
    Pump(system, saga.handle).drain(
        until=lambda: system.orders.order(order_id).status is OrderStatus.RESERVED
    )

    stop = threading.Event()
    leaderships = [AdvisoryLeadership(settings, "deadlines") for _ in range(2)]
    schedulers = [DeadlineScheduler(store, system.orders, lead, interval_s=0.05) for lead in leaderships]
    threads = [threading.Thread(target=s.run, args=(stop,)) for s in schedulers]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: system.orders.order(order_id).status is OrderStatus.FAILED, "the deadline to fail it"
        )
        time.sleep(0.3)  # let both schedulers take a few more turns: nothing may fire again
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for lead in leaderships:
            lead.release()

    topics = [event.topic for event in system.orders.recorder.select_events(order_id)]
    assert topics.count("OrderFailed.v1") == 1
    assert store.due(datetime.now(UTC) + timedelta(days=1), limit=10) == []
