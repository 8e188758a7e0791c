"""The saga drives whole order flows, in memory: the pump hands it every event the contexts
record and performs the calls they decide, until nothing new happens. Outcomes are read from
the contexts and the fakes at the edges (provider, carrier), never from the saga."""

from collections.abc import Iterator
from uuid import UUID

import pytest
from support.api import PROBLEM, api_client, headers, key, order_body, restock

from domain.errors import OrderShippedError
from domain.fulfillment import ShipmentStatus
from domain.ids import payment_id, shipment_id
from domain.inventory import ReleaseStock
from domain.money import Money
from domain.orders import CancelOrder, OrderStatus
from domain.payments import PaymentStatus
from services.saga.compensation import compensation_id

from .saga_world import World, make_world
from .scenario import unique


@pytest.fixture
def world() -> Iterator[World]:
    world = make_world()
    yield world
    world.close()


@pytest.fixture
def sku(world: World) -> str:
    sku = unique("SKU")
    world.restock(sku, 10)
    return sku


def cancel(world: World, order_id: UUID) -> None:
    world.system.orders.execute(
        CancelOrder(command_id=unique("cancel"), order_id=order_id, reason="customer")
    )


def until_status(world: World, order_id: UUID, status: OrderStatus) -> None:
    world.pump.drain(until=lambda: world.order(order_id).status is status)


def test_an_order_is_reserved_paid_booked_shipped_handed_over_captured_and_completed(
    world: World, sku: str
) -> None:
    order_id = world.place({sku: 3})
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.COMPLETED
    assert order.history == ["placed", "reserved", "paid", "fulfilling", "shipped", "completed"]
    assert world.provider.operations("authorize") == [(f"{payment_id(order_id)}:authorize", 3750)]
    assert world.provider.operations("capture") == [(f"{payment_id(order_id)}:capture", 3750)]
    assert world.carrier.bookings() == [(f"{shipment_id(order_id)}:book", order.tracking_id)]
    assert world.carrier.parcels() == {order.tracking_id: "handed_over"}
    stock = world.stock(sku)
    assert (stock.available, stock.reserved, stock.shipped) == (7, 0, 3)


def test_a_declined_payment_fails_the_order_and_releases_its_stock_once(world: World, sku: str) -> None:
    order_id = world.place({sku: 4}, token="tok_decline")
    world.pump.drain()

    order = world.order(order_id)
    assert (order.status, order.reason) == (OrderStatus.FAILED, "payment declined")
    assert order.compensations == ["stock_released"]
    assert world.stored_events()["inventory"]["StockReleased.v1"] == 1
    assert (world.stock(sku).available, world.stock(sku).reserved) == (10, 0)
    assert world.provider.operations("authorize") == []


def test_an_order_without_enough_stock_fails_and_holds_nothing(world: World, sku: str) -> None:
    order_id = world.place({sku: 11})
    world.pump.drain()

    order = world.order(order_id)
    assert (order.status, order.reason, order.compensations) == (OrderStatus.FAILED, "out of stock", [])
    assert (world.stock(sku).available, world.stock(sku).reserved) == (10, 0)


def test_a_customer_cancel_after_payment_voids_the_payment_and_releases_the_stock(
    world: World, sku: str
) -> None:
    order_id = world.place({sku: 2})
    until_status(world, order_id, OrderStatus.PAID)
    cancel(world, order_id)
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.CANCELLED
    assert sorted(order.compensations) == ["payment_voided", "stock_released"]
    assert world.payment(order_id).status is PaymentStatus.VOIDED
    assert world.provider.operations("void") == [(f"{payment_id(order_id)}:void", 0)]
    assert (world.stock(sku).available, world.stock(sku).reserved) == (10, 0)


def test_a_cancel_after_the_carrier_booked_cancels_the_booked_parcel(world: World, sku: str) -> None:
    order_id = world.place({sku: 2})
    world.pump.drain(until=lambda: world.shipment_status(order_id) is ShipmentStatus.BOOKED)
    assert world.order(order_id).status is OrderStatus.FULFILLING  # booked, not yet shipped
    cancel(world, order_id)
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.CANCELLED
    assert sorted(order.compensations) == ["payment_voided", "shipment_cancelled", "stock_released"]
    assert world.shipment(order_id).status is ShipmentStatus.CANCELLED
    assert list(world.carrier.parcels().values()) == ["cancelled"], "no stopped order keeps a live booking"


def test_a_cancel_while_the_booking_s_answer_is_lost_asks_again_then_cancels_the_parcel(
    world: World, sku: str
) -> None:
    order_id = world.place({sku: 1})
    world.carrier.timeouts_after_booking.add(f"{shipment_id(order_id)}:book")
    world.pump.drain(until=lambda: world.carrier.bookings() != [])  # booked; the answer was lost
    assert world.shipment(order_id).status is ShipmentStatus.REQUESTED
    cancel(world, order_id)
    world.pump.drain()

    assert world.order(order_id).status is OrderStatus.CANCELLED
    assert world.shipment(order_id).status is ShipmentStatus.CANCELLED
    assert len(world.carrier.bookings()) == 1, "asked again under the same key: one parcel"
    assert list(world.carrier.parcels().values()) == ["cancelled"]


def test_a_cancel_once_the_order_shipped_is_refused_and_the_parcel_goes(world: World, sku: str) -> None:
    order_id = world.place({sku: 1})
    until_status(world, order_id, OrderStatus.SHIPPED)

    with pytest.raises(OrderShippedError, match="can no longer be cancelled"):
        cancel(world, order_id)
    world.pump.drain()

    assert world.order(order_id).status is OrderStatus.COMPLETED
    assert list(world.carrier.parcels().values()) == ["handed_over"]


def test_a_shipment_the_carrier_refuses_fails_the_order_voids_and_releases(world: World, sku: str) -> None:
    order_id = world.place({sku: 2}, name="FAIL Recipient")
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.FAILED
    assert order.reason.startswith("shipment failed: cannot deliver")
    assert sorted(order.compensations) == ["payment_voided", "stock_released"]
    assert world.shipment(order_id).status is ShipmentStatus.FAILED
    assert world.payment(order_id).net_captured == Money.zero("EUR")
    assert (world.stock(sku).available, world.stock(sku).reserved) == (10, 0)


def test_a_provider_timeout_after_charging_is_asked_again_without_a_second_charge(
    world: World, sku: str
) -> None:
    order_id = world.place({sku: 1})
    world.provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    world.pump.drain()

    assert world.order(order_id).status is OrderStatus.COMPLETED
    assert world.provider.operations("authorize") == [(f"{payment_id(order_id)}:authorize", 1250)]


def test_a_cancel_while_the_authorization_is_unanswered_waits_for_it_then_voids(
    world: World, sku: str
) -> None:
    order_id = world.place({sku: 1})
    world.provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    world.pump.drain(until=lambda: world.provider.operations("authorize") != [])  # charged, answer lost
    assert world.payment(order_id).status is PaymentStatus.REQUESTED
    cancel(world, order_id)
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.CANCELLED
    assert sorted(order.compensations) == ["payment_voided", "stock_released"]
    assert world.payment(order_id).status is PaymentStatus.VOIDED
    assert [len(world.provider.operations(op)) for op in ("authorize", "void")] == [1, 1]


def test_a_release_done_before_a_crash_is_recorded_when_the_stop_comes_again_not_repeated(
    world: World, sku: str
) -> None:
    order_id = world.place({sku: 4}, token="tok_decline")
    until_status(world, order_id, OrderStatus.FAILED)
    release = ReleaseStock(
        command_id=compensation_id(order_id, "stock_released"), order_id=order_id, skus=(sku,)
    )
    world.system.inventory.execute(release)  # what the saga did before it crashed, unrecorded
    world.pump.drain()

    assert world.order(order_id).compensations == ["stock_released"]
    assert world.stored_events()["inventory"]["StockReleased.v1"] == 1


def test_the_api_refuses_a_cancel_once_the_order_shipped_with_a_409_problem_naming_it(
    world: World, sku: str
) -> None:
    api = api_client(world.system)
    restock(api, sku, 10)  # the API client's own stock, as its order draws on no other
    placed = api.post("/v1/orders", json=order_body(sku), headers=headers(key()))
    order_id = UUID(placed.json()["order_id"])
    until_status(world, order_id, OrderStatus.SHIPPED)

    refused = api.post(f"/v1/orders/{order_id}/cancel", json={"reason": "too late"}, headers=headers(key()))

    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM)
    assert refused.json()["type"].endswith("/order-shipped")
    assert refused.json()["detail"] == f"order {order_id} has shipped and can no longer be cancelled"
    world.pump.drain()
    assert world.order(order_id).status is OrderStatus.COMPLETED
