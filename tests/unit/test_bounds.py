"""The bounds on quantities and on the lines of an order: declared in the OpenAPI document,
refused over HTTP with a 422 problem, and refused by the domain for a command that never went
through the API, with nothing recorded."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from support.api import PROBLEM, api_client, headers, key, order_body, restock

from domain.errors import InvalidCommandError, InvalidQuantityError, TooManyLinesError
from domain.inventory import MAX_LINES, MAX_QUANTITY, MAX_RESTOCK_QUANTITY, ReserveStock, RestockSku
from services.bootstrap import System

from .scenario import unique


def lines(count: int, quantity: int = 1) -> list[dict[str, Any]]:
    return [{"sku": f"SKU-{n}", "quantity": quantity, "unit_price_cents": 100} for n in range(count)]


def test_the_openapi_document_declares_every_bound(system: System) -> None:
    schemas = api_client(system).get("/openapi.json").json()["components"]["schemas"]

    line_quantity = schemas["Line"]["properties"]["quantity"]
    order_lines = schemas["PlaceOrderRequest"]["properties"]["lines"]
    restock_quantity = schemas["RestockRequest"]["properties"]["quantity"]
    assert (line_quantity["minimum"], line_quantity["maximum"]) == (1, MAX_QUANTITY)
    assert (order_lines["minItems"], order_lines["maxItems"]) == (1, MAX_LINES)
    assert (restock_quantity["minimum"], restock_quantity["maximum"]) == (1, MAX_RESTOCK_QUANTITY)


def test_over_http_a_request_at_every_bound_is_accepted(system: System) -> None:
    api = api_client(system)
    for line in lines(MAX_LINES):
        restock(api, line["sku"], 1)

    widest = api.post("/v1/orders", json=order_body("SKU-0", lines=lines(MAX_LINES)), headers=headers(key()))
    largest = api.post("/v1/orders", json=order_body("SKU-0", quantity=MAX_QUANTITY), headers=headers(key()))
    most = api.post(
        f"/v1/inventory/{unique('SKU')}/restock",
        json={"quantity": MAX_RESTOCK_QUANTITY},
        headers=headers(key()),
    )

    assert (widest.status_code, largest.status_code, most.status_code) == (201, 201, 200)


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1/orders", order_body("SKU-0", quantity=MAX_QUANTITY + 1), "invalid_quantity"),
        ("/v1/orders", order_body("SKU-0", lines=lines(MAX_LINES + 1)), "too_many_lines"),
        ("/v1/inventory/SKU-0/restock", {"quantity": MAX_RESTOCK_QUANTITY + 1}, "invalid_quantity"),
    ],
    ids=["a line's quantity", "the lines of an order", "a restock's quantity"],
)
def test_over_http_a_request_beyond_a_bound_is_a_422_problem_and_leaves_nothing(
    system: System, path: str, body: dict[str, Any], code: str
) -> None:
    api = api_client(system)
    restock(api, "SKU-0", 1)
    events_before = system.inventory.recorder.max_notification_id()

    answer = api.post(path, json=body, headers=headers(key()))

    assert (answer.status_code, answer.headers["content-type"], answer.json()["code"]) == (422, PROBLEM, code)
    assert system.orders.recorder.max_notification_id() in (None, 0)
    assert system.inventory.recorder.max_notification_id() == events_before


def reserve(quantity: int = 1, count: int = 1) -> ReserveStock:
    skus = tuple((f"SKU-{n}", quantity) for n in range(count))
    return ReserveStock(command_id=unique("reserve"), order_id=uuid4(), lines=skus)


DIRECT: list[tuple[str, Callable[[], Any], type[InvalidCommandError]]] = [
    ("a reservation's quantity", lambda: reserve(quantity=MAX_QUANTITY + 1), InvalidQuantityError),
    ("the lines of a reservation", lambda: reserve(count=MAX_LINES + 1), TooManyLinesError),
    (
        "a restock's quantity",
        lambda: RestockSku(command_id=unique("restock"), sku="SKU-0", quantity=MAX_RESTOCK_QUANTITY + 1),
        InvalidQuantityError,
    ),
]


@pytest.mark.parametrize(
    ("command", "refusal"), [case[1:] for case in DIRECT], ids=[case[0] for case in DIRECT]
)
def test_a_command_beyond_a_bound_that_bypasses_the_api_is_refused_and_records_nothing(
    system: System, command: Callable[[], Any], refusal: type[InvalidCommandError]
) -> None:
    for n in range(MAX_LINES + 1):
        system.inventory.execute(
            RestockSku(command_id=unique("restock"), sku=f"SKU-{n}", quantity=MAX_QUANTITY)
        )
    events_before = system.inventory.recorder.max_notification_id()
    sent = command()

    with pytest.raises(refusal):
        system.inventory.execute(sent)

    assert system.inventory.recorder.max_notification_id() == events_before
    assert system.inventory.command_log.find_command(sent.command_id) is None
