"""ShipShipment books the parcel with the carrier through its port, under a key stable for
the shipment, so retries, replays and redeliveries never book a second parcel."""

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest

from domain.errors import ShipmentStateError
from domain.fulfillment import CancelShipment, RequestShipment, ShipmentStatus, ShipShipment
from domain.ids import shipment_id
from infrastructure.carrier import InMemoryCarrier
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.fulfillment import ShipmentOutcomeUnknownError

from .scenario import unique


@pytest.fixture
def carrier() -> InMemoryCarrier:
    return InMemoryCarrier()


@pytest.fixture
def system(carrier: InMemoryCarrier) -> Iterator[System]:
    system = build(Settings(database_url=None), carrier=carrier)
    yield system
    system.close()


def requested(system: System, destination: str = "Ada Lovelace, 1 Main Street, 3511 Utrecht, NL") -> UUID:
    order_id = uuid4()
    system.fulfillment.execute(
        RequestShipment(command_id=unique("request"), order_id=order_id, destination=destination)
    )
    return order_id


def ship(system: System, order_id: UUID) -> dict[str, str]:
    return system.fulfillment.execute(ShipShipment(command_id=unique("ship"), order_id=order_id)).result


def test_shipping_books_one_parcel_under_the_shipment_s_key_and_records_its_tracking_id(
    system: System, carrier: InMemoryCarrier
) -> None:
    order_id = requested(system)
    result = ship(system, order_id)
    assert result["status"] == "shipped"
    assert carrier.bookings() == [(f"{shipment_id(order_id)}:ship", result["tracking_id"])]


def test_shipping_again_under_another_command_id_books_nothing_new(
    system: System, carrier: InMemoryCarrier
) -> None:
    order_id = requested(system)
    first, second = ship(system, order_id), ship(system, order_id)
    assert first == second
    assert len(carrier.bookings()) == 1


def test_a_destination_the_carrier_refuses_fails_the_shipment_with_its_reason(
    system: System, carrier: InMemoryCarrier
) -> None:
    order_id = requested(system, destination="FAIL Recipient, Nowhere 1, 0000 Void, NL")
    assert ship(system, order_id)["status"] == "failed"
    assert system.fulfillment.shipment_of(order_id).status is ShipmentStatus.FAILED
    assert carrier.bookings() == []


def test_a_lost_answer_records_nothing_and_the_retry_gets_the_parcel_already_booked(
    system: System, carrier: InMemoryCarrier
) -> None:
    order_id = requested(system)
    carrier.timeouts_after_booking.add(f"{shipment_id(order_id)}:ship")
    command = ShipShipment(command_id=unique("ship"), order_id=order_id)
    with pytest.raises(ShipmentOutcomeUnknownError):
        system.fulfillment.execute(command)
    assert system.fulfillment.shipment_of(order_id).status is ShipmentStatus.REQUESTED
    assert system.fulfillment.command_log.find_command(command.command_id) is None

    result = system.fulfillment.execute(command).result
    assert carrier.bookings() == [(f"{shipment_id(order_id)}:ship", result["tracking_id"])]


def test_a_cancelled_shipment_is_refused_before_the_carrier_is_asked(
    system: System, carrier: InMemoryCarrier
) -> None:
    order_id = requested(system)
    system.fulfillment.execute(CancelShipment(command_id=unique("cancel"), order_id=order_id))
    with pytest.raises(ShipmentStateError):
        ship(system, order_id)
    assert carrier.bookings() == []
