"""An order that has not shipped by its deadline is failed, once, and then compensated like
any other stopped order. Deadlines are kept in a store (in memory here, PostgreSQL in the
integration tests), scheduled when the saga sees the order placed."""

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from domain.ids import caused_command_id
from domain.orders import OrderStatus
from domain.ports import Deadline
from services.saga import COMPLETE_BY, DeadlineScheduler, SoleLeadership

from .saga_world import World, make_world
from .scenario import unique

WITHIN = timedelta(seconds=1)


@pytest.fixture
def world() -> Iterator[World]:
    world = make_world(complete_within=WITHIN)
    yield world
    world.close()


@pytest.fixture
def scheduler(world: World) -> DeadlineScheduler:
    return DeadlineScheduler(world.deadlines, world.system.orders, SoleLeadership(), interval_s=0.05)


def reserved_order(world: World) -> UUID:
    """An order the saga has taken as far as RESERVED, and left there."""
    sku = unique("SKU")
    world.restock(sku, 5)
    order_id = world.place({sku: 2})
    world.pump.drain(until=lambda: world.order(order_id).status is OrderStatus.RESERVED)
    return order_id


def the_deadline(world: World, order_id: UUID) -> Deadline:
    placed_at = world.order(order_id).created_on
    (deadline,) = world.deadlines.due(placed_at + timedelta(days=1), limit=10)
    assert (deadline.order_id, deadline.kind, deadline.due_at) == (order_id, COMPLETE_BY, placed_at + WITHIN)
    return deadline


def orders_failed(world: World) -> int:
    return world.stored_events()["orders"]["OrderFailed.v1"]


def test_placing_an_order_schedules_its_deadline_once_however_often_the_event_comes(world: World) -> None:
    order_id = reserved_order(world)
    for event in world.pump.handed:
        world.saga.handle(event)
    assert the_deadline(world, order_id).correlation_id == world.pump.handed[0].correlation_id


def test_nothing_fires_before_the_deadline(world: World, scheduler: DeadlineScheduler) -> None:
    order_id = reserved_order(world)
    deadline = the_deadline(world, order_id)
    assert scheduler.fire_due(deadline.due_at - timedelta(milliseconds=1)) == 0
    assert world.order(order_id).status is OrderStatus.RESERVED


def test_a_passed_deadline_fails_the_order_once_however_often_it_is_fired(
    world: World, scheduler: DeadlineScheduler
) -> None:
    order_id = reserved_order(world)
    deadline = the_deadline(world, order_id)

    assert scheduler.fire_due(deadline.due_at) == 1
    assert scheduler.fire_due(deadline.due_at + timedelta(seconds=5)) == 0

    order = world.order(order_id)
    assert (order.status, order.reason) == (OrderStatus.FAILED, "deadline passed")
    assert orders_failed(world) == 1
    assert world.deadlines.fired_at(deadline) == deadline.due_at
    fail = world.system.orders.command_log.find_command(caused_command_id(deadline.key, "FailOrder"))
    assert fail is not None and fail.command_type == "FailOrder"


def test_an_order_failed_by_its_deadline_gives_its_stock_back(
    world: World, scheduler: DeadlineScheduler
) -> None:
    order_id = reserved_order(world)
    scheduler.fire_due(the_deadline(world, order_id).due_at)
    world.pump.drain()

    assert world.order(order_id).compensations == ["stock_released"]
    sku = world.order(order_id).lines[0].sku
    assert (world.stock(sku).available, world.stock(sku).reserved) == (5, 0)


def test_a_deadline_of_an_order_that_completed_in_time_fires_nothing(
    world: World, scheduler: DeadlineScheduler
) -> None:
    order_id = reserved_order(world)
    world.pump.drain()
    deadline = the_deadline(world, order_id)

    assert scheduler.fire_due(deadline.due_at) == 1
    assert world.order(order_id).status is OrderStatus.COMPLETED
    assert world.deadlines.fired_at(deadline) is not None


def test_the_running_scheduler_fails_an_order_once_its_deadline_passes(
    world: World, scheduler: DeadlineScheduler
) -> None:
    order_id = reserved_order(world)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,))
    thread.start()
    try:
        give_up = time.monotonic() + 5
        while world.order(order_id).status is not OrderStatus.FAILED and time.monotonic() < give_up:
            stop.wait(0.02)
    finally:
        stop.set()
        thread.join()
    assert world.order(order_id).status is OrderStatus.FAILED
    assert orders_failed(world) == 1
