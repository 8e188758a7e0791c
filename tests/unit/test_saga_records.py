"""What the saga makes of each consumed record: passed over by its header, handed on under
its order's key, or parked as a dead letter when no retry could ever handle it. A failure
that might pass (the database away) is raised, for the consumer to try again later."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from uuid import uuid4

import pytest

from infrastructure.consuming import Delivery
from infrastructure.contracts import IntegrationEvent
from services.registry import REGISTRY
from services.saga.records import Record, Routed, SagaRecords

from .saga_world import World, make_world
from .scenario import unique


@dataclass
class Parked:
    """The dead-letter port, kept in a list."""

    letters: list[tuple[Record, str]] = field(default_factory=list)

    def park(self, record: Record, event: IntegrationEvent | None, reason: str) -> None:
        self.letters.append((record, reason))


@pytest.fixture
def world() -> Iterator[World]:
    world = make_world()
    yield world
    world.close()


def published(world: World) -> list[IntegrationEvent]:
    app = world.system.orders
    return [
        REGISTRY.to_integration_event("orders", app.mapper.to_domain_event(n), n.id)
        for n in app.recorder.select_notifications(1, 100)
    ]


def record_of(event: IntegrationEvent, value: bytes | None = None) -> Delivery:
    return Delivery("orders.events", 0, 7, event.key, value or event.to_bytes(), tuple(event.headers()))


def test_an_event_the_saga_does_not_act_on_is_passed_over_by_its_header_unread(world: World) -> None:
    world.restock(sku := unique("SKU"), 1)
    inventory = world.system.inventory
    (registered, _) = [
        REGISTRY.to_integration_event("inventory", inventory.mapper.to_domain_event(n), n.id)
        for n in inventory.recorder.select_notifications(1, 10)
        if sku in n.state.decode()
    ]
    records = SagaRecords(world.saga, Parked())
    assert records.route(record_of(registered, value=b"not even json")) is None


def test_an_order_s_event_is_handed_on_under_the_order_s_id(world: World) -> None:
    world.restock(sku := unique("SKU"), 1)
    order_id = world.place({sku: 1})
    (placed,) = published(world)
    routed = SagaRecords(world.saga, Parked()).route(record_of(placed))
    assert routed is not None and routed[0] == str(order_id)


@pytest.mark.parametrize(
    "damage",
    [
        lambda body: b"{not json",
        lambda body: json.dumps({**json.loads(body), "data": {"order_id": "x"}}).encode(),
        lambda body: json.dumps({**json.loads(body), "schema_version": 99}).encode(),
    ],
    ids=["not json", "data against its schema", "an unknown version"],
)
def test_a_record_the_saga_cannot_read_is_parked_and_handled_no_further(world: World, damage: object) -> None:
    world.restock(sku := unique("SKU"), 1)
    order_id = world.place({sku: 1})
    (placed,) = published(world)
    parked = Parked()
    records = SagaRecords(world.saga, parked)

    routed = records.route(record_of(placed, value=damage(placed.to_bytes())))  # type: ignore[operator]
    assert routed is not None
    records.handle(routed[1])

    assert [reason.split(":")[0] for _, reason in parked.letters] == ["unreadable"]
    assert world.order(order_id).status == "placed", "nothing was done on its account"


def test_an_event_about_no_order_is_parked(world: World) -> None:
    world.restock(sku := unique("SKU"), 1)
    world.place({sku: 1})
    (placed,) = published(world)
    ghost = placed.model_copy(update={"data": {**placed.data, "order_id": str(uuid4())}})
    parked = Parked()
    records = SagaRecords(world.saga, parked)
    routed = records.route(record_of(ghost))
    assert routed is not None
    records.handle(routed[1])
    assert [reason.split(":")[0] for _, reason in parked.letters] == ["UnknownOrderError"]


def test_a_failure_that_may_pass_is_raised_until_it_has_lasted_too_long(world: World) -> None:
    world.restock(sku := unique("SKU"), 1)
    world.place({sku: 1})
    (placed,) = published(world)

    class DatabaseAway:
        def handle(self, event: IntegrationEvent) -> None:
            raise ConnectionError("the database is away")

    parked = Parked()
    records = SagaRecords(DatabaseAway(), parked, give_up_after_s=60.0)  # type: ignore[arg-type]
    routed = Routed(record_of(placed), placed, first_seen=0.0)
    with pytest.raises(ConnectionError):
        records.handle(replace(routed, first_seen=time.monotonic()))
    records.handle(routed)  # first seen long ago: parked instead
    assert [reason.split(":")[0] for _, reason in parked.letters] == ["still failing after 60s"]
