"""Shipment: requested, then booked or refused by the carrier; a booked parcel is handed over
or cancelled, never both, and each is an intent before the carrier is asked."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain.errors import ShipmentStateError
from domain.fulfillment import Shipment, ShipmentStatus
from domain.ids import shipment_id
from domain.privacy import Sealed

from .scenario import event, given, refused, then, then_nothing_new, trace, traced_by

Step = Callable[[Shipment], object]


ADDRESS = Sealed(owner="acme/c-1", ciphertext="c2VhbGVkIGFkZHJlc3M=")  # a sealed address


def history(*steps: Step) -> Any:
    shipment, _ = Shipment.request(uuid4(), ADDRESS, trace("setup"))
    for step in steps:
        step(shipment)
    return shipment.collect_events()


def booked(shipment: Shipment) -> None:
    shipment.book("TRACK-1", trace("setup"))


def failed(shipment: Shipment) -> None:
    shipment.fail("no such street", trace("setup"))


def handing_over(shipment: Shipment) -> None:
    shipment.request_hand_over(trace("setup"))


def shipped(shipment: Shipment) -> None:
    shipment.request_hand_over(trace("setup"))
    shipment.ship(trace("setup"))


def cancelling(shipment: Shipment) -> None:
    shipment.request_cancel(trace("setup"))


def cancelled(shipment: Shipment) -> None:
    shipment.request_cancel(trace("setup"))
    shipment.cancel(trace("setup"))


def test_requesting_a_shipment_opens_it_and_asks_the_carrier_to_book_it() -> None:
    order_id = uuid4()
    shipment, call = Shipment.request(order_id, ADDRESS, trace())
    then(shipment, event(Shipment.Requested, originator_id=shipment_id(order_id), order_id=str(order_id)))
    assert (shipment.status, shipment.destination) == (ShipmentStatus.REQUESTED, ADDRESS)
    assert (call.call_id, call.operation) == (f"{shipment_id(order_id)}:book", "book")
    assert call.request == {"destination": ADDRESS.as_json(), "order_id": str(order_id)}


def test_the_carrier_s_booking_records_its_tracking_id() -> None:
    shipment = given(history())
    shipment.book("TRACK-9", trace())
    then(shipment, event(Shipment.Booked, tracking_id="TRACK-9"))
    assert shipment.status is ShipmentStatus.BOOKED


def test_a_refused_booking_fails_the_shipment_with_the_reason() -> None:
    shipment = given(history())
    shipment.fail("address not found", trace())
    then(shipment, event(Shipment.Failed, reason="address not found"))
    assert shipment.status is ShipmentStatus.FAILED


@pytest.mark.parametrize("answer", [booked, failed], ids=["booked", "refused"])
def test_a_second_answer_to_the_booking_records_nothing_new(answer: Step) -> None:
    shipment = given(history(booked))
    answer(shipment)
    then_nothing_new(shipment)


def test_handing_over_asks_the_carrier_and_its_answer_ships_the_parcel() -> None:
    shipment = given(history(booked))
    call = shipment.request_hand_over(trace())
    assert call is not None and call.request["tracking_id"] == "TRACK-1"
    shipment.ship(trace("answer"))
    then(shipment, event(Shipment.HandOverRequested), event(Shipment.Shipped, tracking_id="TRACK-1"))
    assert shipment.status is ShipmentStatus.SHIPPED


def test_cancelling_asks_the_carrier_and_its_answer_cancels_the_parcel() -> None:
    shipment = given(history(booked))
    call = shipment.request_cancel(trace())
    assert call is not None and (call.operation, call.call_id) == ("cancel", f"{shipment.id}:cancel")
    shipment.cancel(trace("answer"))
    then(shipment, event(Shipment.CancelRequested), event(Shipment.Cancelled))
    assert shipment.status is ShipmentStatus.CANCELLED


@pytest.mark.parametrize(
    ("past", "again"),
    [
        (handing_over, handing_over),
        (shipped, handing_over),
        (cancelling, cancelling),
        (cancelled, cancelling),
    ],
    ids=["handing over", "shipped", "cancelling", "cancelled"],
)
def test_asking_for_the_same_step_again_asks_nothing_new(past: Step, again: Step) -> None:
    shipment = given(history(booked, past))
    again(shipment)
    then_nothing_new(shipment)


@pytest.mark.parametrize(
    ("past", "change"),
    [
        (handing_over, cancelling),
        (shipped, cancelling),
        (cancelling, handing_over),
        (cancelled, handing_over),
    ],
    ids=[
        "cancel while handing over",
        "cancel once shipped",
        "hand over while cancelling",
        "hand over once cancelled",
    ],
)
def test_a_parcel_is_handed_over_or_cancelled_never_both(past: Step, change: Step) -> None:
    shipment = given(history(booked, past))
    with refused(shipment, ShipmentStateError):
        change(shipment)


@pytest.mark.parametrize("change", [handing_over, cancelling], ids=["hand over", "cancel"])
def test_nothing_is_handed_over_or_cancelled_before_the_carrier_booked_it(change: Step) -> None:
    shipment = given(history())
    with refused(shipment, ShipmentStateError):
        change(shipment)


def test_every_shipment_event_carries_the_trace_of_the_command_that_caused_it() -> None:
    shipment, _ = Shipment.request(uuid4(), ADDRESS, trace("request"))
    shipment.book("TRACK-1", trace("book"))
    shipment.request_hand_over(trace("hand over"))
    shipment.ship(trace("ship"))
    names = ["request", "book", "hand over", "ship"]
    assert [traced_by(e) for e in shipment.collect_events()] == [trace(name) for name in names]
