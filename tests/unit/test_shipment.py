"""Shipment: requested, then shipped (and delivered), cancelled or failed; never two of those."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain.errors import ShipmentStateError
from domain.fulfillment import Shipment, ShipmentStatus
from domain.ids import shipment_id

from .scenario import event, given, refused, then, then_nothing_new, trace, traced_by

Step = Callable[[Shipment], None]


def history(*steps: Step) -> Any:
    shipment = Shipment.request(uuid4(), "1 Main St", trace("setup"))
    for step in steps:
        step(shipment)
    return shipment.collect_events()


def shipped(shipment: Shipment) -> None:
    shipment.ship("TRACK-1", trace("setup"))


def cancelled(shipment: Shipment) -> None:
    shipment.cancel(trace("setup"))


def failed(shipment: Shipment) -> None:
    shipment.fail("lost in depot", trace("setup"))


def test_requesting_a_shipment_opens_the_shipment_of_that_order() -> None:
    order_id = uuid4()
    shipment = Shipment.request(order_id, "1 Main St", trace())
    then(
        shipment,
        event(Shipment.Requested, originator_id=shipment_id(order_id), order_id=str(order_id)),
    )
    assert (shipment.status, shipment.destination) == (ShipmentStatus.REQUESTED, "1 Main St")


def test_shipping_records_the_carrier_s_tracking_id() -> None:
    shipment = given(history())
    shipment.ship("TRACK-9", trace())
    then(shipment, event(Shipment.Shipped, tracking_id="TRACK-9"))
    assert shipment.status is ShipmentStatus.SHIPPED


def test_shipping_again_with_the_same_tracking_id_records_nothing_new() -> None:
    shipment = given(history(shipped))
    shipment.ship("TRACK-1", trace())
    then_nothing_new(shipment)


def test_shipping_again_with_another_tracking_id_is_refused() -> None:
    shipment = given(history(shipped))
    with refused(shipment, ShipmentStateError):
        shipment.ship("TRACK-2", trace())


def test_delivering_a_shipped_shipment_closes_it() -> None:
    shipment = given(history(shipped))
    shipment.deliver(trace())
    then(shipment, event(Shipment.Delivered))
    assert shipment.status is ShipmentStatus.DELIVERED


def test_cancelling_a_requested_shipment_stops_it() -> None:
    shipment = given(history())
    shipment.cancel(trace())
    then(shipment, event(Shipment.Cancelled))
    assert shipment.status is ShipmentStatus.CANCELLED


def test_cancelling_twice_records_nothing_new() -> None:
    shipment = given(history(cancelled))
    shipment.cancel(trace())
    then_nothing_new(shipment)


def test_failing_a_requested_shipment_records_the_reason() -> None:
    shipment = given(history())
    shipment.fail("address not found", trace())
    then(shipment, event(Shipment.Failed, reason="address not found"))
    assert shipment.status is ShipmentStatus.FAILED


@pytest.mark.parametrize(
    ("past", "change"),
    [
        (shipped, cancelled),
        (shipped, failed),
        (cancelled, shipped),
        (failed, shipped),
        (cancelled, failed),
        (failed, cancelled),
    ],
    ids=lambda step: step.__name__,
)
def test_a_shipment_that_has_left_or_stopped_cannot_change_course(past: Step, change: Step) -> None:
    shipment = given(history(past))
    with refused(shipment, ShipmentStateError):
        change(shipment)


def test_delivering_a_shipment_that_has_not_shipped_is_refused() -> None:
    shipment = given(history())
    with refused(shipment, ShipmentStateError):
        shipment.deliver(trace())


def test_every_shipment_event_carries_the_trace_of_the_command_that_caused_it() -> None:
    shipment = Shipment.request(uuid4(), "1 Main St", trace("request"))
    shipment.ship("TRACK-1", trace("ship"))
    shipment.deliver(trace("deliver"))
    names = ["request", "ship", "deliver"]
    assert [traced_by(e) for e in shipment.collect_events()] == [trace(name) for name in names]
