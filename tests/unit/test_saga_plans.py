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
from infrastructure.contracts import IntegrationEvent, to_integration_event
from services.saga.compensation import Situation, compensate, compensation_id
from services.saga.forward import authorize_payment, reserve_stock
from services.saga.steps import Step

from .scenario import ADDRESS, trace


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
    return Order.place(command, is_known_sku=lambda _: True)


def published(context: str, aggregate: Order | Payment | Shipment) -> list[IntegrationEvent]:
    """What the relay would publish for the aggregate's new events."""
    return [to_integration_event(context, e, n) for n, e in enumerate(aggregate.collect_events(), 1)]


def stopped(order: Order) -> Order:
    order.cancel("customer", trace())
    return order


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

    (step,) = authorize_payment(event, order)

    assert step.command == AuthorizePayment(
        command_id=caused_command_id(event.event_id, "AuthorizePayment"),
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        order_id=order.id,
        amount=Money(1700, "EUR"),
        token="tok_ok",
    )


def test_an_authorization_advances_the_order_only_when_authorized_and_fails_it_otherwise() -> None:
    order = placed_order()
    order.confirm_stock_reserved(trace())

    (step,) = authorize_payment(published("orders", order)[-1], order)

    (advance,), (fail,) = step.then, step.otherwise
    assert step.expect == "authorized"
    assert isinstance(advance.command, AdvanceOrder) and advance.command.step is OrderStatus.PAID
    assert isinstance(fail.command, FailOrder) and fail.command.reason == "payment declined"


def test_the_same_event_planned_again_gives_the_same_steps() -> None:
    order = placed_order()
    (event,) = published("orders", order)
    assert reserve_stock(event, order) == reserve_stock(event, order)
    assert reserve_stock(event, order)[0].command.correlation_id == "flow-1"


def test_a_stopped_order_is_undone_in_reverse_shipment_then_payment_then_stock() -> None:
    order = placed_order()
    payment = Payment.request(order.id, order.total, trace())
    payment.authorize("ref-1", trace())
    situation = Situation(
        stopped(order),
        payment,
        Shipment.request(order.id, "1 Main St", trace()),
        ("SKU-A", "SKU-B"),
        frozenset(),
    )

    steps = compensate(situation, published("orders", order)[-1])

    assert commands(steps) == [CancelShipment, VoidPayment, ReleaseStock]
    assert [recorded(s.then[0]) for s in steps] == ["shipment_cancelled", "payment_voided", "stock_released"]


def test_a_captured_payment_is_refunded_what_was_captured() -> None:
    order = placed_order()
    payment = Payment.request(order.id, order.total, trace())
    payment.authorize("ref-1", trace())
    payment.capture(trace())

    (step,) = compensate(
        Situation(stopped(order), payment, None, (), frozenset()), published("orders", order)[-1]
    )

    assert isinstance(step.command, RefundPayment)
    assert step.command.amount == Money(1700, "EUR")


def test_every_event_that_leads_to_a_compensation_issues_the_same_commands() -> None:
    order = placed_order()
    situation = Situation(stopped(order), None, None, ("SKU-A",), frozenset())
    placed, cancelled = published("orders", order)

    via_stop, via_late_event = compensate(situation, cancelled), compensate(situation, placed)

    assert [s.command.command_id for s in via_stop] == [s.command.command_id for s in via_late_event]
    assert via_stop[0].command.command_id == compensation_id(order.id, "stock_released")


def test_a_compensation_applied_before_a_crash_is_recorded_not_repeated() -> None:
    order = stopped(placed_order())
    situation = Situation(order, None, None, (), frozenset({"stock_released"}))

    (step,) = compensate(situation, published("orders", order)[-1])

    assert recorded(step) == "stock_released"
    assert step.command.command_id == compensation_id(order.id, "record:stock_released")


def test_a_compensation_already_recorded_on_the_order_is_not_planned_again() -> None:
    order = stopped(placed_order())
    order.record_compensation("stock_released", trace())
    situation = Situation(order, None, None, ("SKU-A",), frozenset({"stock_released"}))
    assert compensate(situation, published("orders", order)[-1]) == ()


def test_a_payment_whose_outcome_is_unknown_is_first_resolved_with_the_provider() -> None:
    order = placed_order()
    payment = Payment.request(order.id, order.total, trace())
    payment.mark_outcome_unknown("authorize", trace())

    steps = compensate(
        Situation(stopped(order), payment, None, ("SKU-A",), frozenset()), published("orders", order)[-1]
    )

    assert commands(steps) == [AuthorizePayment, ReleaseStock]
    assert steps[0].command.command_id == compensation_id(order.id, "payment_resolved")
