"""Placing an Order: well-formed lines, one currency, known SKUs, a total within MAX_CENTS."""

from uuid import uuid4

import pytest

from domain.errors import (
    AmountOverflowError,
    CurrencyMismatchError,
    EmptyOrderError,
    InvalidAddressError,
    InvalidPaymentTokenError,
    TooManyLinesError,
    UnknownSkuError,
)
from domain.inventory import MAX_LINES, MAX_QUANTITY
from domain.money import MAX_CENTS, Money
from domain.orders import Order, OrderLine, OrderStatus, PlaceOrder, ShippingAddress
from domain.privacy import PersonalDataErasedError
from infrastructure.vault import memory_vault

from .scenario import ADDRESS, event, then, trace, traced_by


def line(sku: str = "SKU-1", quantity: int = 1, cents: int = 250, currency: str = "EUR") -> OrderLine:
    return OrderLine(sku, quantity, Money(cents, currency))


VAULT = memory_vault()


def place_order(*lines: OrderLine, catalogue: frozenset[str] | None = None) -> Order:
    command = PlaceOrder(
        command_id="place",
        order_id=uuid4(),
        customer_id="customer-1",
        shipping_address=ADDRESS,
        payment_token="tok_ok",
        currency="EUR",
        lines=lines,
    )
    known = catalogue if catalogue is not None else {each.sku for each in lines}
    return Order.place(command, is_known_sku=known.__contains__, vault=VAULT)


def test_placing_an_order_records_its_lines_and_their_total() -> None:
    lines = (line("SKU-1", quantity=2, cents=250), line("SKU-2", quantity=1, cents=1000))
    order = place_order(*lines)
    then(order, event(Order.Placed, lines=lines, currency="EUR", total=Money(1500, "EUR")))
    assert order.status is OrderStatus.PLACED


def test_an_order_without_lines_is_refused() -> None:
    with pytest.raises(EmptyOrderError):
        place_order()


def test_an_order_may_have_max_lines_lines() -> None:
    lines = [line(f"SKU-{n}") for n in range(MAX_LINES)]
    assert len(place_order(*lines).lines) == MAX_LINES


def test_an_order_with_more_than_max_lines_lines_is_refused() -> None:
    with pytest.raises(TooManyLinesError):
        place_order(*[line(f"SKU-{n}") for n in range(MAX_LINES + 1)])


def test_an_order_for_a_sku_the_catalogue_does_not_know_is_refused() -> None:
    with pytest.raises(UnknownSkuError):
        place_order(line("SKU-1"), line("SKU-2"), catalogue=frozenset({"SKU-1"}))


def test_a_line_priced_in_another_currency_than_the_order_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError):
        place_order(line("SKU-1", currency="EUR"), line("SKU-2", currency="USD"))


@pytest.mark.parametrize(
    "lines",
    [
        (line("SKU-1", quantity=MAX_QUANTITY, cents=MAX_CENTS // MAX_QUANTITY + 1),),
        (line("SKU-1", cents=MAX_CENTS), line("SKU-2", cents=1)),
    ],
    ids=["one line's subtotal", "the order's total"],
)
def test_an_order_worth_more_than_max_cents_is_refused(lines: tuple[OrderLine, ...]) -> None:
    with pytest.raises(AmountOverflowError):
        place_order(*lines)


def test_the_placed_event_carries_the_trace_of_the_place_order_command() -> None:
    command = PlaceOrder(
        command_id="place",
        correlation_id="place/correlation",
        causation_id="place/causation",
        order_id=uuid4(),
        customer_id="customer-1",
        shipping_address=ADDRESS,
        payment_token="tok_ok",
        currency="EUR",
        lines=(line(),),
    )
    order = Order.place(command, is_known_sku=lambda sku: True, vault=memory_vault())
    assert [traced_by(e) for e in order.collect_events()] == [trace("place")]


@pytest.mark.parametrize(
    "change", [{"country": "Netherlands"}, {"city": ""}, {"line1": "x" * 201}, {"name": "tab\there"}]
)
def test_a_malformed_shipping_address_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(InvalidAddressError):
        ShippingAddress(**{**vars(ADDRESS), **change})


@pytest.mark.parametrize("token", ["", "   ", "t" * 65])
def test_a_missing_or_oversized_payment_token_is_refused(token: str) -> None:
    command = PlaceOrder(
        command_id="place",
        order_id=uuid4(),
        customer_id="c-1",
        shipping_address=ADDRESS,
        payment_token=token,
        currency="EUR",
        lines=(line(),),
    )
    with pytest.raises(InvalidPaymentTokenError):
        Order.place(command, is_known_sku=lambda sku: True, vault=memory_vault())


def test_the_placed_event_carries_where_to_ship_and_how_to_pay_sealed_under_the_customer_s_key() -> None:
    order = place_order(line())
    (placed,) = order.collect_events()
    assert "tok_ok" not in repr(placed) and ADDRESS.line1 not in repr(placed)
    assert placed.shipping_address.owner == placed.payment_token.owner == "/customer-1"
    assert ShippingAddress.opened(VAULT, placed.shipping_address) == ADDRESS
    assert VAULT.open(placed.payment_token) == "tok_ok"


def test_once_the_customer_is_forgotten_the_order_still_loads_but_its_personal_data_cannot_be_opened() -> (
    None
):
    order = place_order(line())
    assert VAULT.forget("/customer-1")
    assert order.total == Money(250, "EUR")  # what is not personal stays readable
    with pytest.raises(PersonalDataErasedError):
        ShippingAddress.opened(VAULT, order.shipping_address)
    with pytest.raises(PersonalDataErasedError):
        VAULT.open(order.payment_token)
