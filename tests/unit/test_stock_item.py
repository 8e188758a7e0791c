"""StockItem: restock, reserve per order, release, ship; stock is conserved (invariant I2), and
an order leaves nothing behind in the item once its stock is shipped or released."""

from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import InsufficientStockError, InvalidQuantityError, InvalidSkuError, StockStateError
from domain.ids import stock_item_id
from domain.inventory import MAX_QUANTITY, MAX_RESTOCK_QUANTITY, StockItem

from .scenario import event, given, refused, then, then_nothing_new, trace, traced_by

SKU = "SKU-1"


def history(restocked: int, reserved: dict[UUID, int] | None = None, shipped: tuple[UUID, ...] = ()) -> Any:
    """A stock item restocked once, then reserved for some orders and shipped to some of them."""
    item = StockItem.register(SKU, trace("setup"))
    item.restock(restocked, trace("setup"))
    for order_id, quantity in (reserved or {}).items():
        item.reserve(order_id, quantity, trace("setup"))
    for order_id in shipped:
        item.ship(order_id, trace("setup"))
    return item.collect_events()


def test_registering_a_sku_creates_its_stock_item_with_nothing_in_stock() -> None:
    item = StockItem.register(SKU, trace())
    then(item, event(StockItem.Registered, sku=SKU, originator_id=stock_item_id(SKU)))
    assert (item.available, item.reserved, item.shipped) == (0, 0, 0)


@pytest.mark.parametrize("sku", ["", "has space", "-leading-dash", "x" * 65])
def test_registering_a_malformed_sku_is_refused(sku: str) -> None:
    with pytest.raises(InvalidSkuError):
        StockItem.register(sku, trace())


def test_restocking_adds_to_what_is_available() -> None:
    item = given(history(restocked=3))
    item.restock(4, trace())
    then(item, event(StockItem.Restocked, quantity=4))
    assert item.available == 7


@pytest.mark.parametrize("quantity", [0, -1, MAX_RESTOCK_QUANTITY + 1, True, 1.5], ids=repr)
def test_restocking_a_quantity_outside_1_to_max_restock_quantity_is_refused(quantity: Any) -> None:
    item = given(history(restocked=3))
    with refused(item, InvalidQuantityError):
        item.restock(quantity, trace())


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, True, 1.5], ids=repr)
def test_reserving_a_quantity_outside_1_to_max_quantity_is_refused(quantity: Any) -> None:
    item = given(history(restocked=MAX_RESTOCK_QUANTITY))
    with refused(item, InvalidQuantityError):
        item.reserve(uuid4(), quantity, trace())


def test_reserving_moves_stock_from_available_to_the_order() -> None:
    order = uuid4()
    item = given(history(restocked=10))
    item.reserve(order, 4, trace())
    then(item, event(StockItem.Reserved, order_id=str(order), quantity=4))
    assert (item.available, item.reservations) == (6, {str(order): 4})


def test_reserving_exactly_what_is_available_empties_the_shelf() -> None:
    item = given(history(restocked=4))
    item.reserve(uuid4(), 4, trace())
    then(item, event(StockItem.Reserved, quantity=4))
    assert item.available == 0


def test_reserving_more_than_is_available_is_refused() -> None:
    item = given(history(restocked=10, reserved={uuid4(): 7}))
    with refused(item, InsufficientStockError):
        item.reserve(uuid4(), 4, trace())


def test_reserving_twice_for_the_same_order_records_nothing_new() -> None:
    order = uuid4()
    item = given(history(restocked=10, reserved={order: 4}))
    item.reserve(order, 4, trace())
    then_nothing_new(item)
    assert item.available == 6


def test_an_order_whose_stock_was_shipped_or_released_leaves_nothing_behind_in_the_item() -> None:
    shipped, released, kept = uuid4(), uuid4(), uuid4()
    item = given(history(restocked=10, reserved={shipped: 4, released: 2, kept: 1}, shipped=(shipped,)))
    item.release(released, trace())
    assert item.reservations == {str(kept): 1}
    assert str(shipped) not in repr(vars(item))


def test_releasing_gives_the_order_s_reservation_back() -> None:
    order = uuid4()
    item = given(history(restocked=10, reserved={order: 4}))
    item.release(order, trace())
    then(item, event(StockItem.Released, order_id=str(order), quantity=4))
    assert (item.available, item.reserved) == (10, 0)


def test_releasing_with_nothing_reserved_records_nothing_new() -> None:
    item = given(history(restocked=10))
    item.release(uuid4(), trace())
    then_nothing_new(item)


def test_shipping_turns_the_order_s_reservation_into_shipped_stock() -> None:
    order = uuid4()
    item = given(history(restocked=10, reserved={order: 4}))
    item.ship(order, trace())
    then(item, event(StockItem.Shipped, order_id=str(order), quantity=4))
    assert (item.available, item.reserved, item.shipped) == (6, 0, 4)


def test_shipping_without_a_reservation_is_refused() -> None:
    item = given(history(restocked=10))
    with refused(item, StockStateError):
        item.ship(uuid4(), trace())


def test_shipping_again_once_shipped_is_refused_as_the_order_holds_no_reservation() -> None:
    order = uuid4()
    item = given(history(restocked=10, reserved={order: 4}, shipped=(order,)))
    with refused(item, StockStateError):
        item.ship(order, trace())


def test_restocked_equals_available_plus_reserved_plus_shipped_after_any_sequence() -> None:
    kept, released, shipped = uuid4(), uuid4(), uuid4()
    item = StockItem.register(SKU, trace())
    item.restock(10, trace())
    item.reserve(released, 3, trace())
    item.reserve(shipped, 4, trace())
    item.release(released, trace())
    item.ship(shipped, trace())
    item.restock(5, trace())
    item.reserve(kept, 6, trace())
    rebuilt = given(item.collect_events())
    assert (rebuilt.available, rebuilt.reserved, rebuilt.shipped) == (5, 6, 4)
    assert rebuilt.restocked == rebuilt.available + rebuilt.reserved + rebuilt.shipped == 15


def test_every_stock_event_carries_the_trace_of_the_command_that_caused_it() -> None:
    released, shipped = uuid4(), uuid4()
    item = StockItem.register(SKU, trace("register"))
    item.restock(10, trace("restock"))
    item.reserve(released, 2, trace("reserve-1"))
    item.release(released, trace("release"))
    item.reserve(shipped, 3, trace("reserve-2"))
    item.ship(shipped, trace("ship"))
    names = ["register", "restock", "reserve-1", "release", "reserve-2", "ship"]
    assert [traced_by(e) for e in item.collect_events()] == [trace(name) for name in names]
