"""The payments and the shipments against the provider's and the carrier's records, on the four
contexts in memory (tests/integration/test_reconcile.py runs the whole command on the real
system): what differs, what is still too young to count, and what a repair can fix."""

from contextlib import suppress
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from support.orders import PRICE, OrderFlows, place_order, sealed_address, sealed_token

from domain.errors import UnknownPaymentError, UnknownShipmentError
from domain.fulfillment import RequestShipment
from domain.ids import caused_command_id, shipment_id
from domain.payments import AuthorizePayment, Payment, RecordProviderAnswer, VoidPayment
from infrastructure.webhook_store import RETRY_HORIZON
from services.bootstrap import System
from services.ops.check.invariants import Holdings
from services.ops.check.store import CarrierBooking
from services.ops.reconcile import payments, shipments
from services.ops.reconcile.payments import Said
from services.saga.pump import AT_ONCE

GRACE = timedelta(seconds=60)


@pytest.fixture
def flows(system: System) -> OrderFlows:
    flows = OrderFlows(system)
    flows.restock("SKU-1", 10)
    return flows


def test_without_a_ledger_the_webhooks_are_the_provider_s_word_for_their_retry_horizon(
    system: System, flows: OrderFlows
) -> None:
    order_id = flows.completed(("SKU-1", 2), refund_cents=100)
    payment = system.payments.payment_of(order_id)
    (refund,) = [e.call_id for e in system.payments.events.get(payment.id) if isinstance(e, Payment.Refunded)]
    at = payment.modified_on
    told = [
        announced(payment, "authorize", 500, at),
        announced(payment, "capture", 500, at),
        announced(payment, "refund", 100, at, key=refund),
    ]

    def differences(webhooks: list[Said], after: timedelta) -> list[str]:
        compared = payments.compare(holdings(system, order_id), webhooks, system.payments, at + after, GRACE)
        assert compared.note.startswith("no provider ledger to read"), compared.note
        return [difference.what for difference in compared.differences]

    assert differences(told, after=GRACE) == []
    assert differences(told[:2], after=GRACE) == [
        "the payments store has it refunded (100 cents); the provider never told of it"
    ]
    assert differences(told[:2], after=GRACE / 2) == [], "its webhook may still be on its way"
    assert differences(told[:2], after=RETRY_HORIZON + GRACE) == [], "its webhook is forgotten by now"


def test_a_webhook_the_payment_awaits_is_repairable_and_one_it_does_not_await_is_not(
    system: System, flows: OrderFlows
) -> None:
    order_id = place_order(system)
    authorize = AuthorizePayment(
        command_id="authorize", order_id=order_id, amount=PRICE, token=sealed_token(system)
    )
    system.payments.execute(authorize)
    while sum(gateway.perform_due() for gateway in system.gateways(AT_ONCE)):
        pass
    system.payments.execute(VoidPayment(command_id="void", order_id=order_id))  # its call is never made
    payment = system.payments.payment_of(order_id)
    later = payment.modified_on + GRACE

    def found(webhook: Said) -> list[tuple[str, RecordProviderAnswer | None]]:
        compared = payments.compare(holdings(system, order_id), [webhook], system.payments, later, GRACE)
        return [(d.what, d.fix) for d in compared.differences if d.ids["key"] == webhook.key]

    void = announced(payment, "void", 0, payment.modified_on)
    ((what, fix),) = found(void)
    assert what == "the provider voided 0 cents (announced by webhook); the payments store does not know it"
    assert fix == RecordProviderAnswer(
        command_id=caused_command_id(void.webhook, "RecordProviderAnswer"),
        causation_id=void.webhook,
        order_id=order_id,
        call_id=void.key,
        operation="void",
        status="approved",
        reference=void.reference,
    )
    assert [fix for _, fix in found(announced(payment, "capture", PRICE.cents, payment.modified_on))] == [
        None
    ]
    system.payments.execute(fix)
    assert found(void) == [], "recorded: the store knows it now"


def test_a_parcel_and_its_shipment_must_be_the_same_in_states_that_agree(
    system: System, flows: OrderFlows
) -> None:
    shipped = flows.completed(("SKU-1", 1))
    requested = place_order(system)
    system.fulfillment.execute(
        RequestShipment(command_id="request", order_id=requested, destination=sealed_address(system))
    )
    tracking = system.fulfillment.shipment_of(shipped).tracking_id
    now = system.fulfillment.shipment_of(requested).modified_on

    def differences(*parcels: tuple[UUID, str, str, datetime]) -> list[str]:
        bookings = {
            f"{shipment_id(order_id)}:book": CarrierBooking(
                f"{shipment_id(order_id)}:book", tracking_id, state, at
            )
            for order_id, tracking_id, state, at in parcels
        }
        compared = shipments.compare(holdings(system, shipped, requested, bookings=bookings), now, GRACE)
        return [difference.what for difference in compared.differences]

    assert differences((shipped, tracking, "handed_over", now)) == []
    assert differences((shipped, tracking, "cancelled", now)) == [
        "the shipment is shipped; the carrier's parcel is cancelled"
    ]
    assert differences() == [f"the shipment is shipped with parcel {tracking}; the carrier booked none"]
    booked_meanwhile = (requested, "TRK-2", "booked", now - GRACE / 2)
    assert differences((shipped, tracking, "handed_over", now), booked_meanwhile) == [], (
        "its answer may be on its way"
    )
    booked_long_ago = (requested, "TRK-2", "booked", now - GRACE)
    assert differences((shipped, tracking, "handed_over", now), booked_long_ago) == [
        "the carrier booked parcel TRK-2 (booked); the shipment is requested"
    ]
    assert shipments.compare(holdings(system, shipped), now, GRACE).note == (
        "no carrier ledger to read: shipments not compared"
    )


def holdings(system: System, *order_ids: UUID, bookings: dict[str, CarrierBooking] | None = None) -> Holdings:
    """What the stores hold for these orders, as the check folds them; no provider ledger."""
    paid, shipped = {}, {}
    for order_id in order_ids:
        with suppress(UnknownPaymentError):
            paid[order_id] = system.payments.payment_of(order_id)
        with suppress(UnknownShipmentError):
            shipped[order_id] = system.fulfillment.shipment_of(order_id)
    orders = [system.orders.order(order_id) for order_id in order_ids]
    return Holdings(orders, paid, shipped, stock=[], provider=None, bookings=bookings)


def announced(payment: Payment, operation: str, cents: int, at: datetime, key: str = "") -> Said:
    """The provider's webhook announcing one operation of `payment`, received at `at`."""
    key = key or f"{payment.id}:{operation}"
    return Said(key, operation, payment.order_id, cents, f"{operation}_ref", at, f"evt_{key}")
