"""Deadlines in PostgreSQL: one row per (order, kind), never due again once fired, and one
active scheduler at a time, elected by an advisory lock, or by a Redis lock (those cases are
skipped when no Redis answers at ORDERS_REDIS_URL). A scheduler that lost its lock without
knowing cannot mark a deadline fired, and one whose Redis went away fires nothing and says so
in one line."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql
from support.redis_keys import REDIS_URL, reachable_redis

from domain.inventory import RestockSku
from domain.money import Money
from domain.orders import OrderLine, OrderStatus, PlaceOrder, ShippingAddress
from domain.ports import Deadline, FencedOutError
from infrastructure.deadlines import PostgresDeadlineStore
from infrastructure.leadership import AdvisoryLock, lock_for
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
    leader, standby = AdvisoryLock(settings, "deadlines"), AdvisoryLock(settings, "deadlines")
    try:
        assert (leader.hold(), standby.hold(), leader.hold()) == (True, False, True)
        leader.release()  # as a crash would: the session ends
        assert (standby.hold(), leader.hold()) == (True, False)
    finally:
        leader.release()
        standby.release()


def test_a_leader_whose_session_the_server_ends_loses_the_lock_to_the_standby(settings: Settings) -> None:
    leader, standby = AdvisoryLock(settings, "deadlines"), AdvisoryLock(settings, "deadlines")
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
    here, there = AdvisoryLock(settings, "deadlines"), AdvisoryLock(other, "deadlines")
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
    leaderships = [AdvisoryLock(settings, "deadlines") for _ in range(2)]
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


@pytest.fixture
def redis_settings(settings: Settings) -> Iterator[Settings]:
    """`settings` with the Redis lock; skipped unless Redis answers, the schema's keys deleted after."""
    with reachable_redis(settings.postgres_schema):
        yield settings.replace(lock_backend="redis", redis_url=REDIS_URL)


def in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def late_order(system: System, store: PostgresDeadlineStore) -> UUID:
    """An order reserved, not shipped, whose deadline falls due a second from now."""
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
    return order_id


def failures(system: System, order_id: UUID) -> int:
    return [event.topic for event in system.orders.recorder.select_events(order_id)].count("OrderFailed.v1")


def test_two_running_schedulers_holding_the_redis_lock_fail_a_late_order_once(
    redis_settings: Settings, system: System, store: PostgresDeadlineStore
) -> None:
    order_id = late_order(system, store)
    stop = threading.Event()
    locks = [lock_for(redis_settings, "deadlines") for _ in range(2)]
    schedulers = [DeadlineScheduler(store, system.orders, lock, interval_s=0.05) for lock in locks]
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
        for lock in locks:
            lock.release()

    assert failures(system, order_id) == 1
    assert store.due(in_an_hour(), limit=10) == []


def test_a_scheduler_paused_past_its_redis_lease_cannot_mark_and_its_successor_does(
    redis_settings: Settings, system: System, store: PostgresDeadlineStore
) -> None:
    order_id = late_order(system, store)
    paused, successor = (lock_for(redis_settings, "deadlines", lease_s=0.3) for _ in range(2))
    try:
        assert paused.hold()
        wait_for(successor.hold, "the successor to take the lock once the paused one's lease ran out")

        with pytest.raises(FencedOutError):  # it still has its fence, and fires with it on waking
            DeadlineScheduler(store, system.orders, paused, clock=in_an_hour).fire_due(in_an_hour())
        assert [d.order_id for d in store.due(in_an_hour(), limit=10)] == [order_id], "not marked"

        assert DeadlineScheduler(store, system.orders, successor).fire_due(in_an_hour()) == 1
    finally:
        paused.release()
        successor.release()
    assert store.due(in_an_hour(), limit=10) == []
    assert failures(system, order_id) == 1, "failed once, by the paused scheduler's firing"


def test_a_scheduler_whose_redis_goes_away_fires_nothing_and_says_so_in_one_line(
    redis_settings: Settings, system: System, store: PostgresDeadlineStore, caplog: pytest.LogCaptureFixture
) -> None:
    order_id = late_order(system, store)
    stop = threading.Event()
    with doorway_to(REDIS_URL) as (doorway, url):
        lock = lock_for(redis_settings.replace(redis_url=url), "deadlines")
        scheduler = DeadlineScheduler(store, system.orders, lock, clock=in_an_hour, interval_s=0.05)
        thread = threading.Thread(target=scheduler.run, args=(stop,))
        try:
            assert lock.hold()
            doorway.shut()
            with caplog.at_level("WARNING"):
                thread.start()
                time.sleep(0.5)  # ten rounds, each of which would fire the deadline if it led
        finally:
            stop.set()
            thread.join()
            lock.release()

    assert system.orders.order(order_id).status is OrderStatus.RESERVED
    assert [d.order_id for d in store.due(in_an_hour(), limit=10)] == [order_id]
    (line,) = [r.getMessage() for r in caplog.records if r.name == "infrastructure.leadership"]
    assert line.startswith("lost the deadlines lock: Redis: ") and f":{doorway.port}" in line, line
    assert not [r for r in caplog.records if r.exc_info], "no traceback"


class Doorway:
    """A TCP proxy to a server that the test can shut: then the server is gone for every
    client that reached it through here, as if it had stopped."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.sockets = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def shut(self) -> None:
        for sock in self.sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65_536):
            sink.sendall(data)


@contextmanager
def doorway_to(url: str) -> Iterator[tuple[Doorway, str]]:
    """A doorway to the Redis at `url`, and the URL that reaches it through the doorway."""
    parts = urlsplit(url)
    doorway = Doorway(parts.hostname or "127.0.0.1", parts.port or 6379)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{doorway.port}" if credentials else f"127.0.0.1:{doorway.port}"
    try:
        yield doorway, parts._replace(netloc=netloc).geturl()
    finally:
        doorway.shut()
