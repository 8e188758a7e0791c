"""The gateway performs the calls a command decided, and records each answer once.

A command that needs the provider or the carrier only records its intent and the call; the
answer arrives when a gateway worker performs it. A lost answer leaves the call pending, to
be asked again under the same key; a request the other side rejects is parked; an answer
is recorded once however often it is fed back."""

from collections.abc import Iterator
from dataclasses import replace
from uuid import UUID, uuid4

import pytest
from support.orders import ADDRESS, sealed_address, sealed_token

from domain.calls import Call
from domain.fulfillment import CancelShipment, HandOverShipment, RequestShipment, ShipmentStatus
from domain.ids import payment_id, shipment_id
from domain.money import Money
from domain.orders import ShippingAddress
from domain.payments import AuthorizePayment, PaymentStatus
from domain.privacy import Sealed
from infrastructure.gateways.carrier import InMemoryCarrier
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.gateway import Gateway, GatewayOptions

from .scenario import unique

NOW = GatewayOptions(backoff_s=0.0, lease_s=0.0)


@pytest.fixture
def carrier() -> InMemoryCarrier:
    return InMemoryCarrier()


@pytest.fixture
def system(provider: InMemoryPaymentProvider, carrier: InMemoryCarrier) -> Iterator[System]:
    system = build(Settings(database_url=None), provider=provider, carrier=carrier)
    yield system
    system.close()


def payments(system: System, options: GatewayOptions = NOW) -> Gateway:
    return Gateway(system.payments, system.payments.calls, options)


def fulfillment(system: System) -> Gateway:
    return Gateway(system.fulfillment, system.fulfillment.calls, NOW)


def authorize(system: System) -> UUID:
    order_id = uuid4()
    command = AuthorizePayment(
        command_id=unique("pay"), order_id=order_id, amount=Money(4200, "EUR"), token=sealed_token(system)
    )
    system.payments.execute(command)
    return order_id


def booked(system: System, destination: ShippingAddress = ADDRESS) -> UUID:
    order_id = uuid4()
    request = RequestShipment(
        command_id=unique("ship"), order_id=order_id, destination=sealed_address(system, destination)
    )
    system.fulfillment.execute(request)
    fulfillment(system).perform_due()
    return order_id


def test_a_command_asks_nothing_of_the_provider_it_records_the_call(
    system: System, provider: InMemoryPaymentProvider
) -> None:
    order_id = authorize(system)
    assert provider.operations("authorize") == []
    assert system.payments.payment_of(order_id).status is PaymentStatus.REQUESTED
    assert system.payments.calls.pending() == 1


def test_performing_the_call_records_the_provider_s_answer_and_closes_the_call(
    system: System, provider: InMemoryPaymentProvider
) -> None:
    order_id = authorize(system)
    assert payments(system).perform_due() == 1
    assert system.payments.payment_of(order_id).status is PaymentStatus.AUTHORIZED
    assert (system.payments.calls.pending(), payments(system).perform_due()) == (0, 0)
    assert provider.operations("authorize") == [(f"{payment_id(order_id)}:authorize", 4200)]


def test_a_lost_answer_leaves_the_call_pending_and_the_next_attempt_charges_nothing_again(
    system: System, provider: InMemoryPaymentProvider
) -> None:
    order_id = authorize(system)
    provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    payments(system).perform_due()
    assert system.payments.payment_of(order_id).status is PaymentStatus.REQUESTED
    assert system.payments.calls.pending() == 1

    payments(system).perform_due()
    assert system.payments.payment_of(order_id).status is PaymentStatus.AUTHORIZED
    assert provider.operations("authorize") == [(f"{payment_id(order_id)}:authorize", 4200)]


def test_a_failed_attempt_waits_out_its_backoff_before_the_next(
    system: System, provider: InMemoryPaymentProvider
) -> None:
    order_id = authorize(system)
    provider.timeouts_after_charge.add(f"{payment_id(order_id)}:authorize")
    patient = payments(system, GatewayOptions(backoff_s=60.0, backoff_max_s=60.0, lease_s=0.0))
    patient.pause_s = lambda attempts: 60.0  # type: ignore[method-assign]
    assert patient.perform_due() == 1
    assert patient.perform_due() == 0, "not due again for a minute"


def test_an_answer_fed_back_twice_is_recorded_once(system: System) -> None:
    order_id = authorize(system)
    (call,) = system.payments.calls.claim(1, 0.0)
    answer = system.payments.ask(call)
    first, second = system.payments.execute(answer), system.payments.execute(answer)
    assert (first.replayed, second.replayed) == (False, True)
    events = system.payments.recorder.select_events(payment_id(order_id))
    assert [e.topic for e in events] == ["PaymentRequested.v1", "PaymentAuthorized.v1"]


def test_a_request_the_other_side_rejects_is_parked_with_its_reason(system: System) -> None:
    order_id = booked(system)
    unknown = {"order_id": str(order_id), "tracking_id": "TRK-NONE"}  # a parcel the carrier never booked
    queue = system.fulfillment.recorder.calls  # type: ignore[attr-defined]
    queue.write([Call(f"{shipment_id(order_id)}:cancel", "cancel", unknown)], [])

    assert fulfillment(system).perform_due() == 1
    (parked,) = queue.parked()
    assert "no parcel 'TRK-NONE'" in parked.error
    assert (queue.pending(), fulfillment(system).perform_due()) == (0, 0), "parked: not tried again"


def test_one_parcel_per_shipment_however_often_the_booking_is_asked(
    system: System, carrier: InMemoryCarrier
) -> None:
    order_id = uuid4()
    carrier.timeouts_after_booking.add(f"{shipment_id(order_id)}:book")
    request = RequestShipment(
        command_id=unique("ship"), order_id=order_id, destination=sealed_address(system)
    )
    system.fulfillment.execute(request)
    system.fulfillment.execute(request)
    while fulfillment(system).perform_due():
        pass
    shipment = system.fulfillment.shipment_of(order_id)
    assert shipment.status is ShipmentStatus.BOOKED
    assert carrier.bookings() == [(f"{shipment_id(order_id)}:book", shipment.tracking_id)]


def test_a_destination_the_carrier_refuses_fails_the_shipment_with_its_reason(
    system: System, carrier: InMemoryCarrier
) -> None:
    order_id = booked(system, destination=replace(ADDRESS, name="FAIL Recipient"))
    assert system.fulfillment.shipment_of(order_id).status is ShipmentStatus.FAILED
    assert carrier.bookings() == []


def test_a_booked_parcel_is_cancelled_at_the_carrier(system: System, carrier: InMemoryCarrier) -> None:
    order_id = booked(system)
    system.fulfillment.execute(CancelShipment(command_id=unique("cancel"), order_id=order_id))
    fulfillment(system).perform_due()
    assert system.fulfillment.shipment_of(order_id).status is ShipmentStatus.CANCELLED
    assert list(carrier.parcels().values()) == ["cancelled"]


def test_a_parcel_handed_over_stays_handed_over(system: System, carrier: InMemoryCarrier) -> None:
    order_id = booked(system)
    system.fulfillment.execute(HandOverShipment(command_id=unique("handover"), order_id=order_id))
    fulfillment(system).perform_due()
    assert system.fulfillment.shipment_of(order_id).status is ShipmentStatus.SHIPPED
    assert list(carrier.parcels().values()) == ["handed_over"]


def test_an_answered_call_keeps_no_card_token(system: System) -> None:
    authorize(system)
    queue = system.payments.recorder.calls  # type: ignore[attr-defined]
    (pending,) = queue.claim(1, 0.0)
    assert system.vault.open(Sealed.from_json(pending.request["token"])) == "tok_ok"
    queue.retry(pending.call_id, 0.0, "")
    payments(system).perform_due()
    (answered,) = queue.answered()
    assert "token" not in answered.request
