"""Command: a printable-ASCII command id of 1-255 characters, and a fingerprint of the payload."""

from uuid import uuid4

import pytest

from domain.commands import MAX_COMMAND_ID_LENGTH
from domain.errors import InvalidCommandError
from domain.inventory import ReleaseStock, RestockSku, ShipStock
from domain.money import Money
from domain.orders import OrderLine, PlaceOrder
from domain.tracing import Trace

from .scenario import ADDRESS


@pytest.mark.parametrize(
    "command_id",
    ["", "k" * (MAX_COMMAND_ID_LENGTH + 1), "line\nbreak", "nul\x00byte", "café", "ключ", 42],
    ids=["empty", "256 chars", "newline", "nul", "accented", "cyrillic", "not a string"],
)
def test_a_malformed_command_id_is_refused(command_id: object) -> None:
    with pytest.raises(InvalidCommandError):
        RestockSku(command_id=command_id, sku="SKU-1", quantity=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("command_id", ["k", "k" * MAX_COMMAND_ID_LENGTH, "Order 42: reserve (retry #2)!"])
def test_any_printable_ascii_command_id_up_to_255_characters_is_accepted(command_id: str) -> None:
    assert RestockSku(command_id=command_id, sku="SKU-1", quantity=1).command_id == command_id


def test_the_fingerprint_ignores_the_ids_of_the_command() -> None:
    first = RestockSku(command_id="a", correlation_id="flow-1", sku="SKU-1", quantity=3)
    second = RestockSku(command_id="b", causation_id="event-9", sku="SKU-1", quantity=3)
    assert first.fingerprint() == second.fingerprint()


def test_the_fingerprint_changes_with_the_payload() -> None:
    first = RestockSku(command_id="a", sku="SKU-1", quantity=3)
    assert first.fingerprint() != RestockSku(command_id="a", sku="SKU-1", quantity=4).fingerprint()
    assert first.fingerprint() != RestockSku(command_id="a", sku="SKU-2", quantity=3).fingerprint()


def test_the_fingerprint_tells_command_types_with_the_same_payload_apart() -> None:
    order_id = uuid4()
    release = ReleaseStock(command_id="a", order_id=order_id, skus=("SKU-1",))
    ship = ShipStock(command_id="a", order_id=order_id, skus=("SKU-1",))
    assert release.fingerprint() != ship.fingerprint()


def test_the_fingerprint_covers_the_value_objects_inside_the_payload() -> None:
    order_id = uuid4()

    def place(unit_cents: int) -> PlaceOrder:
        line = OrderLine("SKU-1", 2, Money(unit_cents, "EUR"))
        return PlaceOrder(
            command_id="a",
            order_id=order_id,
            customer_id="c-1",
            shipping_address=ADDRESS,
            payment_token="tok_ok",
            currency="EUR",
            lines=(line,),
        )

    assert place(250).fingerprint() == place(250).fingerprint()
    assert place(250).fingerprint() != place(251).fingerprint()


def test_a_command_without_correlation_or_causation_starts_its_own_trace() -> None:
    command = RestockSku(command_id="a", sku="SKU-1", quantity=1)
    assert command.trace == Trace(command_id="a", correlation_id="a", causation_id="a")


def test_a_command_caused_by_another_message_carries_its_ids_in_the_trace() -> None:
    command = RestockSku(
        command_id="a", correlation_id="flow-1", causation_id="event-9", sku="SKU-1", quantity=1
    )
    assert command.trace == Trace(command_id="a", correlation_id="flow-1", causation_id="event-9")
