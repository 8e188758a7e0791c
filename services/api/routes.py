"""The orders and inventory endpoints.

Each POST runs its command through the idempotency gate, with the request's id as its
correlation id (`request_ids.py`), and builds its response from the command's Receipt alone
(`_placed`, `_changed`, `_restocked`), never from state read afterwards: a retry answered by
the command log then gets the same bytes. Reads go to the aggregates through the services, so
a client reads its own writes. An order is visible only to the tenant that placed it, and stock
only to the tenant that stocked it (each tenant restocks, reads and orders from a stock of its
own, `domain/inventory.py`); to anyone else either does not exist (404), which tells them
nothing. Each operation's `responses` name the problem types it answers, status by status
(`documented`), and links lead from a placed order to reading and cancelling it.
"""

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID, uuid5

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel
from starlette.responses import Response

from domain.errors import (
    AmountOverflowError,
    EmptyOrderError,
    InvalidAddressError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidCurrencyError,
    InvalidPaymentTokenError,
    InvalidQuantityError,
    InvalidSkuError,
    NotFoundError,
    OrderShippedError,
    OrderStateError,
    TooManyLinesError,
    UnknownOrderError,
    UnknownPaymentError,
    UnknownShipmentError,
    UnknownSkuError,
)
from domain.ids import NAMESPACE
from domain.orders import Order, ShippingAddress
from domain.privacy import PersonalDataErasedError, Vault
from services.api.idempotency import REPLAYED_HEADER, Idempotency, IdempotentRequest, idempotent_request
from services.api.problems import (
    CONTENTION,
    KEY_IN_USE,
    KEY_MALFORMED,
    KEY_MISSING,
    KEY_REUSED,
    RATE_LIMITED,
    UNAUTHENTICATED,
    VALIDATION_FAILED,
    ProblemError,
    documented,
    from_domain_error,
    plain,
    problem_type,
)
from services.api.schemas import (
    SKU_RULE,
    CancelRequest,
    OrderReceipt,
    OrderView,
    PlaceOrderRequest,
    RestockRequest,
    StockReceipt,
    StockView,
)
from services.api.store import RecordedResponse, Scope
from services.application import Receipt
from services.bootstrap import System

JSON = "application/json"
T = TypeVar("T")
Sku = Annotated[str, Path(json_schema_extra=SKU_RULE)]  # declared only: `check_sku` enforces it

# What every POST through the idempotency gate may answer besides its own refusals: the key
# missing or malformed (400), a body that is not UTF-8 or nested too deeply (400), too large
# (413) or not JSON (415), not its schema (422), and the gate's own answers.
GATED = (
    KEY_MISSING,
    KEY_MALFORMED,
    plain(400),
    UNAUTHENTICATED,
    KEY_IN_USE,
    plain(413),
    plain(415),
    VALIDATION_FAILED,
    KEY_REUSED,
    RATE_LIMITED,
    CONTENTION,
)
# A path parameter with an encoded slash makes the path another, which names no route.
NO_ROUTE = plain(404)
# The rules of an order (`PlaceOrderRequest.command`, `Order.place`; the customer id's is
# InvalidCommandError's), and a SKU the tenant never stocked, which the body names (so 422).
ORDER_REFUSALS = (
    *map(
        problem_type,
        (
            InvalidCommandError,
            EmptyOrderError,
            TooManyLinesError,
            InvalidSkuError,
            InvalidQuantityError,
            InvalidCurrencyError,
            InvalidAmountError,
            AmountOverflowError,
            InvalidAddressError,
            InvalidPaymentTokenError,
        ),
    ),
    problem_type(UnknownSkuError, status=422),
)


def _link(operation_id: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: the operation a response leads to, with the values it takes from it."""
    return {"operationId": operation_id, "parameters": parameters}


PLACED_RESPONSE = {
    "headers": {
        "Location": {
            "required": True,
            "description": "The order's URL, `/v1/orders/{order_id}`.",
            "schema": {"type": "string"},
        }
    },
    "links": {
        "GetOrder": _link("get_order", order_id="$response.body#/order_id"),
        "CancelOrder": _link("cancel_order", order_id="$response.body#/order_id"),
    },
}


def _replayed(responses: dict[int | str, dict[str, Any]], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses`, with the header that marks a kept answer sent again declared on `statuses`:
    a result, and a refusal by the order's state (409), which the command log records."""
    replayed = {
        "description": "`true` when the answer is the one kept for an earlier request with this"
        " Idempotency-Key and body.",
        "schema": {"type": "string", "enum": ["true"]},
    }
    for status in statuses:
        answer = responses.get(status, {})
        responses[status] = answer | {"headers": answer.get("headers", {}) | {REPLAYED_HEADER: replayed}}
    return responses


def router(system: System, gate: Idempotency, tenant: Callable[..., str]) -> APIRouter:
    api = APIRouter(prefix="/v1")
    Tenant = Annotated[str, Depends(tenant)]
    Post = Annotated[IdempotentRequest, Depends(idempotent_request(tenant))]

    def owned_order(order_id: UUID, tenant_id: str) -> Order:
        order = system.orders.order(order_id)
        if order.tenant_id != tenant_id:
            raise UnknownOrderError(f"no Order with id {order_id}")
        return order

    @api.post(
        "/orders",
        status_code=201,
        response_model=OrderReceipt,
        operation_id="place_order",
        responses=_replayed(documented(*GATED, *ORDER_REFUSALS) | {201: PLACED_RESPONSE}, 201),
    )
    def place_order(body: PlaceOrderRequest, post: Post) -> Response:
        command = body.command(
            post.command_id, order_id(post.scope), post.scope.tenant, correlation_id=post.request_id
        )

        def execute() -> Receipt:
            try:
                return system.orders.execute(command)
            except NotFoundError as missing:  # a SKU the body names: the request is at fault
                raise ProblemError(from_domain_error(missing, status=422)) from None

        return gate.run(post, execute, _placed)

    @api.get(
        "/orders/{order_id}",
        response_model=OrderView,
        operation_id="get_order",
        responses=documented(UNAUTHENTICATED, NO_ROUTE, problem_type(UnknownOrderError), VALIDATION_FAILED),
    )
    def get_order(order_id: UUID, tenant_id: Tenant) -> OrderView:
        order = owned_order(order_id, tenant_id)
        payment = _found(lambda: system.payments.payment_of(order.id), UnknownPaymentError)
        shipment = _found(lambda: system.fulfillment.shipment_of(order.id), UnknownShipmentError)
        return OrderView.of(order, payment, shipment, _address(system.vault, order))

    @api.post(
        "/orders/{order_id}/cancel",
        response_model=OrderReceipt,
        operation_id="cancel_order",
        responses=_replayed(
            documented(
                *GATED,
                NO_ROUTE,
                problem_type(UnknownOrderError),
                problem_type(InvalidCommandError),  # the reason
                problem_type(OrderShippedError),
                problem_type(OrderStateError),
            )
            | {200: {"links": {"GetOrder": _link("get_order", order_id="$request.path.order_id")}}},
            200,
            409,
        ),
    )
    def cancel_order(order_id: UUID, post: Post, body: CancelRequest | None = None) -> Response:
        owned_order(order_id, post.scope.tenant)
        command = (body or CancelRequest()).command(post.command_id, order_id, correlation_id=post.request_id)
        return gate.run(post, lambda: system.orders.execute(command), _changed)

    @api.get(
        "/inventory/{sku}",
        response_model=StockView,
        operation_id="get_stock",
        responses=documented(
            UNAUTHENTICATED, NO_ROUTE, problem_type(UnknownSkuError), problem_type(InvalidSkuError)
        ),
    )
    def get_stock(sku: Sku, tenant_id: Tenant) -> StockView:
        return StockView.of(system.inventory.stock_item(sku, tenant_id))

    @api.post(
        "/inventory/{sku}/restock",
        response_model=StockReceipt,
        operation_id="restock",
        responses=_replayed(
            documented(*GATED, NO_ROUTE, problem_type(InvalidSkuError), problem_type(InvalidQuantityError))
            | {200: {"links": {"GetStock": _link("get_stock", sku="$request.path.sku")}}},
            200,
        ),
    )
    def restock(sku: Sku, body: RestockRequest, post: Post) -> Response:
        command = body.command(post.command_id, sku, post.scope.tenant, correlation_id=post.request_id)
        return gate.run(post, lambda: system.inventory.execute(command), _restocked)

    return api


def order_id(scope: Scope) -> UUID:
    """The order a key places: a retry names the same order, another tenant's key another."""
    return uuid5(NAMESPACE, json.dumps(["order", scope.tenant, scope.key]))


def _placed(result: dict[str, Any]) -> RecordedResponse:
    receipt = OrderReceipt.model_validate(result)
    return _json(201, receipt, location=f"/v1/orders/{receipt.order_id}")


def _changed(result: dict[str, Any]) -> RecordedResponse:
    return _json(200, OrderReceipt.model_validate(result))


def _restocked(result: dict[str, Any]) -> RecordedResponse:
    return _json(200, StockReceipt.model_validate(result))


def _json(status: int, body: BaseModel, location: str | None = None) -> RecordedResponse:
    headers = (("content-type", JSON),) + ((("location", location),) if location else ())
    return RecordedResponse(status, headers, body.model_dump_json().encode())


def _found(load: Callable[[], T], missing: type[NotFoundError]) -> T | None:
    try:
        return load()
    except missing:
        return None


def _address(vault: Vault, order: Order) -> ShippingAddress | None:
    """The order's address, or None once its customer was forgotten."""
    try:
        return ShippingAddress.opened(vault, order.shipping_address)
    except PersonalDataErasedError:
        return None
