"""Redelivery changes nothing: the same scenario runs once with every event handed to the
saga once, and once with every event handed twice in a row and all of them once more, in
reverse order, at the end. The event stores and the fakes at the edges must end identical.
What is compared is read from the contexts and the fakes, not from anything the saga counts.
"""

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest

from domain.ids import payment_id
from domain.orders import CancelOrder, OrderStatus
from infrastructure.contracts import IntegrationEvent

from .saga_world import World, make_world
from .scenario import unique

Handle = Callable[[IntegrationEvent], None]


def twice(handle: Handle) -> Handle:
    def handle_twice(event: IntegrationEvent) -> None:
        handle(event)
        handle(event)

    return handle_twice


def run_scenario(world: World) -> dict[str, UUID]:
    sku = unique("SKU")
    world.restock(sku, 20)
    orders = {
        "completes": world.place({sku: 1}),
        "is declined": world.place({sku: 2}, token="tok_decline"),
        "is refused by the carrier": world.place({sku: 1}, name="FAIL Recipient"),
        "runs out of stock": world.place({sku: 50}),
        "times out after the charge": world.place({sku: 1}),
        "is cancelled after payment": world.place({sku: 3}),
    }
    world.provider.timeouts_after_charge.add(f"{payment_id(orders['times out after the charge'])}:authorize")
    cancelled = orders["is cancelled after payment"]
    world.pump.drain(until=lambda: world.order(cancelled).status is OrderStatus.PAID)
    world.system.orders.execute(
        CancelOrder(command_id=unique("cancel"), order_id=cancelled, reason="customer")
    )
    world.pump.drain()
    return orders


def outcome(world: World, orders: dict[str, UUID]) -> dict[str, Any]:
    return {
        "orders": {
            name: (world.order(o).status, world.order(o).reason, world.order(o).compensations)
            for name, o in orders.items()
        },
        "stored events": world.stored_events(),
        "commands recorded": world.commands_recorded(),
        "provider": {
            op: len(world.provider.operations(op)) for op in ("authorize", "capture", "void", "refund")
        },
        "parcels": sorted(world.carrier.parcels().values()),
    }


@pytest.fixture
def worlds() -> Iterator[tuple[World, World]]:
    once, redelivered = make_world(), make_world(redeliver=twice)
    yield once, redelivered
    once.close()
    redelivered.close()


def test_every_event_handed_twice_and_again_out_of_order_ends_exactly_like_a_single_delivery(
    worlds: tuple[World, World],
) -> None:
    once, redelivered = worlds
    expected = outcome(once, run_scenario(once))

    orders = run_scenario(redelivered)
    for event in reversed(redelivered.pump.handed):
        redelivered.saga.handle(event)

    assert redelivered.pump.drain() == 0  # the late copies recorded nothing new
    assert outcome(redelivered, orders) == expected
    assert {name: status for name, (status, _, _) in expected["orders"].items()} == {
        "completes": OrderStatus.COMPLETED,
        "is declined": OrderStatus.FAILED,
        "is refused by the carrier": OrderStatus.FAILED,
        "runs out of stock": OrderStatus.FAILED,
        "times out after the charge": OrderStatus.COMPLETED,
        "is cancelled after payment": OrderStatus.CANCELLED,
    }
