"""Failure scenario S15 (docs/FAILURE-MODES.md): the clock jumps by 10 minutes, forward and back.

Two decisions depend on a clock. The Idempotency-Key store decides when a kept response
expires (its TTL) and when a crashed request's claim lapses: the PostgreSQL store by the
server's `now()`, so that no API host's clock enters it, the in-memory store by the clock it
is given. The deadline scheduler decides what is due by its own clock. Here both clocks are
injected and jumped, never the system's; the API runs in process over the real context
applications on PostgreSQL, and the verdicts read the event store and the deadline table.

What a jump may change is when an answer comes from the store and when from the command
log. It must never change the answer, nor make an effect happen twice.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest
from support.api import api_client, headers, key, order_body, restock
from support.isolation import isolated_settings

from domain.orders import Order, OrderStatus
from domain.ports import Deadline
from infrastructure.deadlines import PostgresDeadlineStore
from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.settings import Settings
from services.api.problems import KEY_REUSED
from services.bootstrap import System
from services.saga import COMPLETE_BY, DeadlineScheduler, SoleLeadership

pytestmark = pytest.mark.integration

JUMP = timedelta(minutes=10)
TTL = timedelta(minutes=5)  # shorter than a jump, so that a forward jump expires a key
DUE_IN = timedelta(minutes=5)  # so that a forward jump passes a deadline
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    """PostgreSQL only: nothing here publishes."""
    with isolated_settings(database_url) as settings:
        yield settings


class Clock:
    """A wall clock that only moves when the test jumps it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def jump(self, by: timedelta) -> None:
        self.now += by


def times_placed(system: System, order_id: str) -> int:
    return sum(
        event.topic == Order.Placed.TOPIC for event in system.orders.recorder.select_events(UUID(order_id))
    )


def test_s15_a_clock_jump_changes_when_a_key_expires_but_never_its_answer_or_effect(system: System) -> None:
    clock = Clock(START)
    store = InMemoryIdempotencyStore(clock)
    api = api_client(system, store, ttl=TTL)
    restock(api, sku := f"SKU-{uuid4().hex[:12]}")
    same = headers(key())
    first = api.post("/v1/orders", json=order_body(sku), headers=same)
    assert first.status_code == 201, first.text

    clock.jump(-JUMP)  # back: the kept responses do not expire early
    assert store.reap() == 0
    before = api.post("/v1/orders", json=order_body(sku), headers=same)
    assert (before.status_code, before.content, before.headers.get("idempotent-replayed")) == (
        201,
        first.content,
        "true",
    )

    clock.jump(2 * JUMP)  # forward, to 10 minutes after the first request: past its TTL
    assert store.reap() == 2  # the restock's key and the order's
    after = api.post("/v1/orders", json=order_body(sku), headers=same)
    other_body = api.post("/v1/orders", json=order_body(sku, quantity=9), headers=same)
    # The key is claimed afresh, and the command log answers the same command id.
    assert (after.status_code, after.content, after.headers.get("idempotent-replayed")) == (
        201,
        first.content,
        "true",
    )
    assert (other_body.status_code, other_body.json()["type"]) == (422, KEY_REUSED.uri)

    clock.jump(-JUMP)  # back again: the record claimed after the expiry is kept, not expired
    assert store.reap() == 0
    again = api.post("/v1/orders", json=order_body(sku), headers=same)
    assert (again.status_code, again.content) == (201, first.content)
    assert times_placed(system, first.json()["order_id"]) == 1


def fired_at(settings: Settings) -> dict[UUID, datetime | None]:
    assert settings.database_url
    with psycopg.connect(settings.database_url, options=f"-c search_path={settings.postgres_schema}") as conn:
        return dict(conn.execute("SELECT order_id, fired_at FROM saga_deadlines").fetchall())


def test_s15_deadlines_fire_once_whichever_way_the_clock_jumps(settings: Settings, system: System) -> None:
    clock = Clock(START)
    deadlines = PostgresDeadlineStore(settings)
    scheduler = DeadlineScheduler(deadlines, system.orders, SoleLeadership(), clock=clock)
    api = api_client(system)
    restock(api, sku := f"SKU-{uuid4().hex[:12]}")
    soon, later, last = (
        UUID(api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"])
        for _ in range(3)
    )
    for order_id, due_in in ((soon, DUE_IN), (later, DUE_IN), (last, 2 * JUMP)):
        deadlines.schedule(Deadline(order_id, COMPLETE_BY, START + due_in, "s15"))

    def one_round() -> int:
        """What one round of the scheduler's loop fires: the deadlines due at its clock's time."""
        return scheduler.fire_due(scheduler.clock())

    try:
        rounds = [one_round()]  # at the start: nothing is due
        clock.jump(JUMP)
        rounds += [one_round(), one_round()]  # two are due, and fire once
        clock.jump(-JUMP)
        rounds.append(one_round())  # back: the fired ones stay fired
        clock.jump(JUMP)
        rounds.append(one_round())  # forward again: nothing new is due
        clock.jump(2 * JUMP)
        rounds.append(one_round())  # the last one is due now
    finally:
        deadlines.close()

    assert rounds == [0, 2, 0, 0, 0, 1]
    assert fired_at(settings) == {soon: START + JUMP, later: START + JUMP, last: START + 3 * JUMP}
    for order_id in (soon, later, last):
        events = system.orders.recorder.select_events(order_id)
        assert sum(event.topic == Order.Failed.TOPIC for event in events) == 1
        assert system.orders.order(order_id).status is OrderStatus.FAILED
