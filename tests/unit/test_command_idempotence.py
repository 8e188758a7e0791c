"""The command log in every context, in memory: a command id is applied at most once, a
refusal is answered again on replay, and a malformed or premature command is not recorded."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from uuid import uuid4

import pytest
from support.orders import sealed_address, sealed_token

from domain.commands import Command
from domain.errors import (
    CommandIdReusedError,
    DuplicateSkuError,
    InsufficientStockError,
    InvalidQuantityError,
    OrderExistsError,
    UnknownOrderError,
)
from domain.fulfillment import RequestShipment
from domain.inventory import ReserveStock, RestockSku
from domain.money import Money
from domain.orders import AdvanceOrder, CancelOrder, OrderLine, OrderStatus, PlaceOrder
from domain.payments import AuthorizePayment
from services.application import IdempotentApplication, Receipt
from services.bootstrap import System

from .scenario import ADDRESS, unique


@dataclass(frozen=True)
class Case:
    """A context's first command, and the same command id with another payload."""

    app: IdempotentApplication
    command: Command
    other_payload: Command


def stored(app: IdempotentApplication) -> int:
    return app.recorder.max_notification_id() or 0


def restock(system: System) -> Case:
    command = RestockSku(command_id=unique("restock"), sku=unique("SKU"), quantity=5)
    return Case(system.inventory, command, replace(command, quantity=6))


def an_order(system: System) -> PlaceOrder:
    """An order for a SKU that inventory knows."""
    sku = unique("SKU")
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=5))
    line = OrderLine(sku, 2, Money(250, "EUR"))
    return PlaceOrder(
        command_id=unique("place"),
        order_id=uuid4(),
        customer_id="c-1",
        shipping_address=ADDRESS,
        payment_token="tok_ok",
        currency="EUR",
        lines=(line,),
    )


def place_order(system: System) -> Case:
    command = an_order(system)
    other_line = replace(command.lines[0], quantity=3)
    return Case(system.orders, command, replace(command, lines=(other_line,)))


def authorize_payment(system: System) -> Case:
    command = AuthorizePayment(
        command_id=unique("authorize"), order_id=uuid4(), amount=Money(500, "EUR"), token=sealed_token(system)
    )
    return Case(system.payments, command, replace(command, amount=Money(501, "EUR")))


def request_shipment(system: System) -> Case:
    command = RequestShipment(command_id=unique("ship"), order_id=uuid4(), destination=sealed_address(system))
    return Case(system.fulfillment, command, replace(command, destination=sealed_address(system)))


EVERY_CONTEXT = pytest.mark.parametrize(
    "first_command", [restock, place_order, authorize_payment, request_shipment], ids=lambda f: f.__name__
)


@EVERY_CONTEXT
def test_replaying_a_command_answers_the_first_result_and_stores_nothing(
    system: System, first_command: Callable[[System], Case]
) -> None:
    case = first_command(system)
    first = case.app.execute(case.command)
    events_after_first = stored(case.app)
    replayed = case.app.execute(case.command)
    assert first.replayed is False
    assert events_after_first > 0, "the first execution stored its events"
    assert replayed == Receipt(case.command.command_id, first.result, replayed=True)
    assert stored(case.app) == events_after_first


@EVERY_CONTEXT
def test_reusing_a_command_id_for_another_payload_is_refused_and_stores_nothing(
    system: System, first_command: Callable[[System], Case]
) -> None:
    case = first_command(system)
    case.app.execute(case.command)
    events_after_first = stored(case.app)
    with pytest.raises(CommandIdReusedError):
        case.app.execute(case.other_payload)
    assert stored(case.app) == events_after_first


def test_a_refusal_is_replayed_as_the_same_error_even_after_the_state_changed(system: System) -> None:
    sku = unique("SKU")
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=1))
    reserve = ReserveStock(command_id=unique("reserve"), order_id=uuid4(), lines=((sku, 2),))
    with pytest.raises(InsufficientStockError):
        system.inventory.execute(reserve)
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=5))
    events_after_restock = stored(system.inventory)

    with pytest.raises(InsufficientStockError):
        system.inventory.execute(reserve)
    assert stored(system.inventory) == events_after_restock
    # The state did change: the same request under a new id now succeeds.
    assert system.inventory.execute(replace(reserve, command_id=unique("reserve"))).replayed is False


def test_a_malformed_command_is_not_recorded_so_its_corrected_form_may_reuse_the_id(system: System) -> None:
    sku = unique("SKU")
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=5))
    events_after_restock = stored(system.inventory)
    malformed = ReserveStock(command_id=unique("reserve"), order_id=uuid4(), lines=((sku, 0),))
    with pytest.raises(InvalidQuantityError):
        system.inventory.execute(malformed)
    assert stored(system.inventory) == events_after_restock

    corrected = system.inventory.execute(replace(malformed, lines=((sku, 2),)))
    assert corrected.replayed is False
    assert system.inventory.stock_item(sku).available == 3


def test_a_command_for_an_unknown_order_is_not_recorded_so_it_may_succeed_later(system: System) -> None:
    place = an_order(system)
    cancel = CancelOrder(command_id=unique("cancel"), order_id=place.order_id, reason="changed mind")
    with pytest.raises(UnknownOrderError):
        system.orders.execute(cancel)
    assert stored(system.orders) == 0

    system.orders.execute(place)
    assert system.orders.execute(cancel).result["status"] == "cancelled"


def test_placing_an_existing_order_under_another_command_id_is_refused_at_once(system: System) -> None:
    place = an_order(system)
    system.orders.execute(place)

    with pytest.raises(OrderExistsError):
        system.orders.execute(replace(place, command_id=unique("place")))
    assert stored(system.orders) == 1


def test_a_reservation_naming_a_sku_twice_is_refused_as_malformed(system: System) -> None:
    sku = unique("SKU")
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=5))
    events_after_restock = stored(system.inventory)

    with pytest.raises(DuplicateSkuError):
        system.inventory.execute(
            ReserveStock(command_id=unique("reserve"), order_id=uuid4(), lines=((sku, 2), (sku, 1)))
        )
    assert stored(system.inventory) == events_after_restock


def test_a_command_expected_new_that_is_a_repeat_is_answered_from_the_log_with_nothing_new(
    system: System,
) -> None:
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=(sku := unique("SKU")), quantity=1))
    reserve = ReserveStock(command_id=unique("reserve"), order_id=uuid4(), lines=((sku, 1),))
    first = system.inventory.execute(reserve, expect_new=True)
    events = stored(system.inventory)

    again = system.inventory.execute(reserve, expect_new=True)

    assert (again.result, again.replayed) == (first.result, True)
    assert stored(system.inventory) == events


def test_a_repeat_expected_new_whose_handler_would_now_refuse_still_gets_the_first_answer(
    system: System,
) -> None:
    system.inventory.execute(RestockSku(command_id=unique("restock"), sku=(sku := unique("SKU")), quantity=1))
    order_id = uuid4()
    place = PlaceOrder(
        command_id=unique("place"), order_id=order_id, customer_id="c", currency="EUR",
        lines=(OrderLine(sku, 1, Money(100, "EUR")),), shipping_address=ADDRESS, payment_token="tok_ok",
    )  # fmt: skip
    system.orders.execute(place)
    advance = AdvanceOrder(command_id=unique("advance"), order_id=order_id, step=OrderStatus.RESERVED)
    first = system.orders.execute(advance, expect_new=True)
    system.orders.execute(CancelOrder(command_id=unique("cancel"), order_id=order_id, reason="customer"))
    # Run now, `advance` would be refused: a cancelled order cannot become reserved.

    assert system.orders.execute(advance, expect_new=True) == Receipt(advance.command_id, first.result, True)
