"""The saga's decisions are values: given an event and the state it reads, the steps it will
take. No application runs here."""

from uuid import uuid4

from domain.fulfillment import CancelShipment, Shipment
from domain.ids import caused_command_id
from domain.inventory import ReleaseStock
from domain.money import Money
from domain.orders import (
    AdvanceOrder,
    FailOrder,
    Order,
    OrderLine,
    OrderStatus,
    PlaceOrder,
    RecordCompensation,
)
from domain.payments import AuthorizePayment, Payment, RefundPayment, VoidPayment
from infrastructure.contracts import IntegrationEvent
from infrastructure.vault import memory_vault
from services.registry import REGISTRY
from services.saga import compensation
from services.saga.compensation import HELD, NOTHING, RELEASED, Situation, compensation_id
from services.saga.forward import authorize_payment, reserve_stock, shipped
from services.saga.steps import Step

from .scenario import ADDRESS, trace


class NoOthers:
    def payment(self) -> None:
        return None

    def shipment(self) -> None:
        return None


def placed_order() -> Order:
    command = PlaceOrder(
        command_id="place-1",
        correlation_id="flow-1",
        order_id=uuid4(),
        customer_id="customer-1",
        currency="EUR",
        lines=(OrderLine("SKU-A", 2, Money(500, "EUR")), OrderLine("SKU-B", 1, Money(700, "EUR"))),
        shipping_address=ADDRESS,
        payment_token="tok_ok",
    )
    return Order.place(command, is_known_sku=lambda _: True, vault=memory_vault())


def published(context: str, aggregate: Order | Payment | Shipment) -> list[IntegrationEvent]:
    """What the relay would publish for the aggregate's new events."""
    return [REGISTRY.to_integration_event(context, e, n) for n, e in enumerate(aggregate.collect_events(), 1)]


def compensate(situation: Situation, event: IntegrationEvent) -> tuple[Step, ...]:
    """The compensation with every context's undo steps, as the saga takes them."""
    return compensation.compensate(situation, event, REGISTRY.undo)


def stopped(order: Order) -> Order:
    order.cancel("customer", trace())
    return order


def authorized_payment(order: Order) -> Payment:
    payment, _ = Payment.request(order.id, order.total, order.payment_token, trace())
    payment.authorize("ref-1", trace())
    return payment


def booked_shipment(order: Order) -> Shipment:
    shipment, _ = Shipment.request(order.id, order.shipping_address, trace())
    shipment.book("TRK-1", trace())
    return shipment


def commands(steps: tuple[Step, ...]) -> list[type]:
    return [type(step.command) for step in steps]


def recorded(step: Step) -> str:
    """The compensation a RecordCompensation step records."""
    assert isinstance(step.command, RecordCompensation)
    return step.command.step


def test_a_caused_command_carries_an_id_derived_from_its_event_the_flow_s_correlation_and_its_cause() -> None:
    order = placed_order()
    order.confirm_stock_reserved(trace())
    event = published("orders", order)[-1]

    (step,) = authorize_payment(event, order, NoOthers())

    assert step.command == AuthorizePayment(
        command_id=caused_command_id(event.event_id, "AuthorizePayment"),
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        order_id=order.id,
        amount=Money(1700, "EUR"),
        token=order.payment_token,
    )
    assert step.then == step.otherwise == ()  # the provider answers later, as an event


def test_a_reservation_advances_the_order_when_it_succeeds_and_fails_it_otherwise() -> None:
    order = placed_order()
    (step,) = reserve_stock(published("orders", order)[-1], order, NoOthers())

    (advance,), (fail,) = step.then, step.otherwise
    assert isinstance(advance.command, AdvanceOrder) and advance.command.step is OrderStatus.RESERVED
    assert isinstance(fail.command, FailOrder) and fail.command.reason == "out of stock"


def test_the_booking_is_the_point_of_no_return_the_order_is_shipped_with_its_tracking_id() -> None:
    order = placed_order()
    booked = published("fulfillment", booked_shipment(order))[-1]

    (step,) = shipped(booked, order, NoOthers())

    assert isinstance(step.command, AdvanceOrder)
    assert (step.command.step, step.command.tracking_id) == (OrderStatus.SHIPPED, "TRK-1")


def test_once_shipped_the_stock_is_shipped_the_payment_captured_and_the_parcel_handed_over() -> None:
    assert [reaction.__name__ for reaction in REGISTRY.forward["OrderShipped"]] == [
        "ship_stock",
        "capture_payment",
        "hand_over",
    ]


def test_the_same_event_planned_again_gives_the_same_steps() -> None:
    order = placed_order()
    (event,) = published("orders", order)
    assert reserve_stock(event, order, NoOthers()) == reserve_stock(event, order, NoOthers())
    assert reserve_stock(event, order, NoOthers())[0].command.correlation_id == "flow-1"


def test_a_stopped_order_is_undone_in_reverse_booking_then_payment_then_stock() -> None:
    order = placed_order()
    situation = Situation(stopped(order), authorized_payment(order), booked_shipment(order), HELD)

    steps = compensate(situation, published("orders", order)[-1])

    assert commands(steps) == [CancelShipment, VoidPayment, ReleaseStock]
    assert steps[2].command == ReleaseStock(
        command_id=compensation_id(order.id, "stock_released"),
        correlation_id="command/correlation",
        causation_id=steps[2].command.causation_id,
        order_id=order.id,
        skus=("SKU-A", "SKU-B"),
    )


def test_an_answer_still_pending_is_waited_for_not_undone() -> None:
    order = placed_order()
    payment, _ = Payment.request(
        order.id, order.total, order.payment_token, trace()
    )  # authorization unanswered
    shipment, _ = Shipment.request(order.id, order.shipping_address, trace())  # booking unanswered
    situation = Situation(stopped(order), payment, shipment, NOTHING)

    assert compensate(situation, published("orders", order)[-1]) == ()


def test_a_captured_payment_is_refunded_what_is_left_to_refund() -> None:
    order = placed_order()
    payment = authorized_payment(order)
    payment.request_capture(trace())
    payment.capture(trace())

    (step,) = compensate(Situation(stopped(order), payment, None, NOTHING), published("orders", order)[-1])

    assert isinstance(step.command, RefundPayment)
    assert step.command.amount == Money(1700, "EUR")


def test_every_event_that_leads_to_a_compensation_issues_the_same_commands() -> None:
    order = placed_order()
    situation = Situation(stopped(order), None, None, HELD)
    placed, cancelled = published("orders", order)

    via_stop, via_late_event = compensate(situation, cancelled), compensate(situation, placed)

    assert [s.command.command_id for s in via_stop] == [s.command.command_id for s in via_late_event]
    assert via_stop[0].command.command_id == compensation_id(order.id, "stock_released")


def test_an_undo_that_is_done_is_recorded_on_the_order() -> None:
    order = stopped(placed_order())
    payment = authorized_payment(order)
    payment.request_void(trace())
    payment.void(trace())
    situation = Situation(order, payment, None, RELEASED)

    steps = compensate(situation, published("orders", order)[-1])

    assert [recorded(step) for step in steps] == ["payment_voided", "stock_released"]
    assert steps[1].command.command_id == compensation_id(order.id, "record:stock_released")


def test_a_compensation_already_recorded_on_the_order_is_not_planned_again() -> None:
    order = stopped(placed_order())
    order.record_compensation("stock_released", trace())
    situation = Situation(order, None, None, RELEASED)
    assert compensate(situation, published("orders", order)[-1]) == ()
