"""An Order after it is placed: one step at a time along the happy path, or stopped and
compensated. A step already taken is a no-op, so a redelivered saga step changes nothing."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain.errors import OrderStateError
from domain.money import Money
from domain.orders import PROGRESS, Order, OrderLine, OrderStatus, PlaceOrder
from domain.tracing import Trace
from infrastructure.vault import memory_vault

from .scenario import ADDRESS, event, given, refused, then, then_nothing_new, trace, traced_by

Stop = Callable[[Order, str, Trace], None]


def placed() -> Order:
    lines = (OrderLine("SKU-1", 2, Money(250, "EUR")),)
    command = PlaceOrder(
        command_id="place",
        order_id=uuid4(),
        customer_id="c-1",
        shipping_address=ADDRESS,
        payment_token="tok_ok",
        currency="EUR",
        lines=lines,
    )
    return Order.place(command, is_known_sku=lambda sku: True, vault=memory_vault())


def history(reached: OrderStatus = OrderStatus.PLACED, stopped_by: Stop | None = None) -> Any:
    """An order that went along the happy path as far as `reached`, then maybe was stopped
    by `Order.cancel` or `Order.fail`."""
    order, setup = placed(), trace("setup")
    steps = {
        OrderStatus.RESERVED: order.confirm_stock_reserved,
        OrderStatus.PAID: order.confirm_payment_authorized,
        OrderStatus.FULFILLING: order.request_fulfillment,
        OrderStatus.SHIPPED: lambda t: order.confirm_shipped("TRACK-1", t),
        OrderStatus.COMPLETED: order.complete,
    }
    for status in PROGRESS[1 : PROGRESS.index(reached) + 1]:
        steps[status](setup)
    if stopped_by:
        stopped_by(order, "stopped in setup", setup)
    return order.collect_events()


def test_an_order_goes_from_placed_through_every_step_to_completed() -> None:
    order = given(history())
    order.confirm_stock_reserved(trace())
    order.confirm_payment_authorized(trace())
    order.request_fulfillment(trace())
    order.confirm_shipped("TRACK-9", trace())
    order.complete(trace())
    then(
        order,
        event(Order.StockReserved),
        event(Order.PaymentAuthorized),
        event(Order.FulfillmentRequested),
        event(Order.Shipped, tracking_id="TRACK-9"),
        event(Order.Completed),
    )
    assert order.history == [status.value for status in PROGRESS]


def test_repeating_a_step_already_taken_records_nothing_new() -> None:
    order = given(history(reached=OrderStatus.PAID))
    order.confirm_stock_reserved(trace())
    order.confirm_payment_authorized(trace())
    then_nothing_new(order)
    assert order.status is OrderStatus.PAID


def test_skipping_a_step_is_refused() -> None:
    order = given(history(reached=OrderStatus.RESERVED))
    with refused(order, OrderStateError):
        order.request_fulfillment(trace())


def test_cancelling_before_shipping_records_the_reason() -> None:
    order = given(history(reached=OrderStatus.FULFILLING))
    order.cancel("customer asked", trace())
    then(order, event(Order.Cancelled, reason="customer asked"))
    assert order.status is OrderStatus.CANCELLED


def test_cancelling_twice_records_one_event() -> None:
    order = given(history(reached=OrderStatus.RESERVED))
    order.cancel("customer asked", trace())
    order.cancel("customer asked again", trace())
    then(order, event(Order.Cancelled, reason="customer asked"))


def test_failing_records_the_reason() -> None:
    order = given(history(reached=OrderStatus.RESERVED))
    order.fail("payment declined", trace())
    then(order, event(Order.Failed, reason="payment declined"))
    assert order.status is OrderStatus.FAILED


@pytest.mark.parametrize(
    ("reached", "stopped_by", "change"),
    [
        (OrderStatus.SHIPPED, None, Order.cancel),
        (OrderStatus.COMPLETED, None, Order.cancel),
        (OrderStatus.PLACED, Order.fail, Order.cancel),
        (OrderStatus.SHIPPED, None, Order.fail),
        (OrderStatus.PLACED, Order.cancel, Order.fail),
    ],
    ids=["cancel shipped", "cancel completed", "cancel failed", "fail shipped", "fail cancelled"],
)
def test_an_order_that_has_shipped_or_stopped_cannot_be_cancelled_or_failed(
    reached: OrderStatus, stopped_by: Stop | None, change: Stop
) -> None:
    order = given(history(reached, stopped_by))
    with refused(order, OrderStateError):
        change(order, "too late", trace())


@pytest.mark.parametrize("stopped_by", [Order.cancel, Order.fail], ids=["cancelled", "failed"])
def test_a_stopped_order_cannot_advance(stopped_by: Stop) -> None:
    order = given(history(OrderStatus.RESERVED, stopped_by))
    with refused(order, OrderStateError):
        order.confirm_payment_authorized(trace())


@pytest.mark.parametrize("stopped_by", [Order.cancel, Order.fail], ids=["cancelled", "failed"])
def test_each_compensation_of_a_stopped_order_is_recorded_once(stopped_by: Stop) -> None:
    order = given(history(OrderStatus.PAID, stopped_by))
    order.record_compensation("stock released", trace())
    order.record_compensation("payment voided", trace())
    order.record_compensation("stock released", trace())
    then(
        order,
        event(Order.Compensated, step="stock released"),
        event(Order.Compensated, step="payment voided"),
    )


def test_an_order_that_has_not_stopped_cannot_be_compensated() -> None:
    order = given(history(reached=OrderStatus.PAID))
    with refused(order, OrderStateError):
        order.record_compensation("stock released", trace())


def test_every_order_event_carries_the_trace_of_the_command_that_caused_it() -> None:
    order = given(history())
    order.confirm_stock_reserved(trace("reserved"))
    order.cancel("customer asked", trace("cancel"))
    order.record_compensation("stock released", trace("compensate"))
    expected = [trace("reserved"), trace("cancel"), trace("compensate")]
    assert [traced_by(e) for e in order.collect_events()] == expected
