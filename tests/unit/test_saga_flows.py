"""The saga drives whole order flows, in memory: the pump hands it every event the contexts
record, until nothing new happens. Outcomes are read from the contexts and the fakes at the
edges (provider, carrier), never from the saga."""

from collections.abc import Callable, Iterator
from uuid import UUID

import pytest

from domain.fulfillment import ShipmentStatus
from domain.ids import payment_id, shipment_id
from domain.inventory import ReleaseStock
from domain.money import Money
from domain.orders import CancelOrder, OrderStatus
from domain.payments import PaymentStatus
from domain.ports import ProviderReply
from infrastructure.payment_provider import InMemoryPaymentProvider
from services.fulfillment import ShipmentOutcomeUnknownError
from services.payments import PaymentOutcomeUnknownError
from services.saga.compensation import compensation_id

from .saga_world import UNIT_PRICE, World, make_world
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


def test_an_order_is_reserved_paid_shipped_captured_and_completed(world: World, sku: str) -> None:
    order_id = world.place({sku: 3})
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.COMPLETED
    assert order.history == ["placed", "reserved", "paid", "fulfilling", "shipped", "completed"]
    assert world.provider.operations("authorize") == [(f"{payment_id(order_id)}:authorize", 3750)]
    assert world.provider.operations("capture") == [(f"{payment_id(order_id)}:capture", 3750)]
    assert world.carrier.bookings() == [(f"{shipment_id(order_id)}:ship", order.tracking_id)]
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
    world.pump.drain(until=lambda: world.order(order_id).status is OrderStatus.PAID)
    cancel(world, order_id)
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.CANCELLED
    assert order.compensations == ["payment_voided", "stock_released"]
    assert world.payment(order_id).status is PaymentStatus.VOIDED
    assert world.provider.operations("void") == [(f"{payment_id(order_id)}:void", 0)]
    assert (world.stock(sku).available, world.stock(sku).reserved) == (10, 0)


def test_a_cancel_while_fulfilling_also_cancels_the_requested_shipment(world: World, sku: str) -> None:
    order_id = world.place({sku: 2})
    world.pump.drain(until=lambda: world.order(order_id).status is OrderStatus.FULFILLING)
    cancel(world, order_id)
    world.pump.drain()

    assert world.order(order_id).compensations == ["shipment_cancelled", "payment_voided", "stock_released"]
    assert world.shipment(order_id).status is ShipmentStatus.CANCELLED
    assert world.carrier.bookings() == []


def test_a_shipment_the_carrier_refuses_fails_the_order_voids_and_releases(world: World, sku: str) -> None:
    order_id = world.place({sku: 2}, name="FAIL Recipient")
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.FAILED
    assert order.reason.startswith("shipment failed: cannot deliver")
    assert order.compensations == ["payment_voided", "stock_released"]
    assert world.shipment(order_id).status is ShipmentStatus.FAILED
    assert world.payment(order_id).net_captured == Money.zero("EUR")
    assert (world.stock(sku).available, world.stock(sku).reserved) == (10, 0)


class CancelledDuringCapture(InMemoryPaymentProvider):
    """A provider during whose capture the customer's cancel lands: after the saga captured,
    before it marks the order shipped."""

    def __init__(self) -> None:
        super().__init__()
        self.cancel: Callable[[], None] = lambda: None

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        self.cancel()
        return super().capture(idempotency_key=idempotency_key, reference=reference, amount=amount)


def test_a_cancel_racing_the_capture_is_refunded() -> None:
    provider = CancelledDuringCapture()
    world = make_world(provider=provider)
    sku = unique("SKU")
    world.restock(sku, 10)
    order_id = world.place({sku: 1})
    provider.cancel = lambda: cancel(world, order_id)
    world.pump.drain()

    order = world.order(order_id)
    assert order.status is OrderStatus.CANCELLED
    assert order.compensations == ["payment_refunded"]
    assert [cents for _, cents in provider.operations("refund")] == [UNIT_PRICE.cents]
    assert world.payment(order_id).net_captured == Money.zero("EUR")
    assert world.stock(sku).shipped == 1  # the parcel had left: nothing to release
    world.close()


def test_a_provider_timeout_after_charging_is_retried_without_a_second_charge(world: World, sku: str) -> None:
    order_id = world.place({sku: 1})
    world.provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    with pytest.raises(PaymentOutcomeUnknownError):
        world.pump.drain()  # as the consumer would: the event is not committed...
    world.pump.drain()  # ...and comes again

    assert world.order(order_id).status is OrderStatus.COMPLETED
    assert world.provider.operations("authorize") == [(f"{payment_id(order_id)}:authorize", UNIT_PRICE.cents)]


def test_a_carrier_timeout_after_booking_is_retried_without_a_second_parcel(world: World, sku: str) -> None:
    order_id = world.place({sku: 1})
    world.carrier.timeouts_after_booking.add(f"{shipment_id(order_id)}:ship")
    with pytest.raises(ShipmentOutcomeUnknownError):
        world.pump.drain()
    world.pump.drain()

    assert world.order(order_id).status is OrderStatus.COMPLETED
    assert len(world.carrier.bookings()) == 1


def test_a_cancel_while_the_payment_is_unknown_asks_the_provider_then_voids(world: World, sku: str) -> None:
    order_id = world.place({sku: 1})
    world.provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    with pytest.raises(PaymentOutcomeUnknownError):
        world.pump.drain()
    assert world.payment(order_id).status is PaymentStatus.UNKNOWN
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
    world.pump.drain(until=lambda: world.order(order_id).status is OrderStatus.FAILED)
    release = ReleaseStock(
        command_id=compensation_id(order_id, "stock_released"), order_id=order_id, skus=(sku,)
    )
    world.system.inventory.execute(release)  # what the saga did before it crashed, unrecorded
    world.pump.drain()

    assert world.order(order_id).compensations == ["stock_released"]
    assert world.stored_events()["inventory"]["StockReleased.v1"] == 1
