"""The orders and inventory endpoints.

Each POST runs its command through the idempotency gate and builds its response from the
command's Receipt alone (`_placed`, `_changed`, `_restocked`), never from state read
afterwards: a retry answered by the command log then gets the same bytes. Reads go to the
aggregates through the services, so a client reads its own writes. An order is visible only to
the tenant that placed it, and stock only to the tenant that stocked it (each tenant restocks,
reads and orders from a stock of its own, `domain/inventory.py`); to anyone else either does not
exist (404), which tells them nothing.
"""

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID, uuid5

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.responses import Response

from domain.errors import NotFoundError, UnknownOrderError, UnknownPaymentError, UnknownShipmentError
from domain.ids import NAMESPACE
from domain.orders import Order, ShippingAddress
from domain.privacy import PersonalDataErasedError, Vault
from services.api.idempotency import Idempotency, IdempotentRequest, idempotent_request
from services.api.problems import ProblemError, documented, from_domain_error
from services.api.schemas import (
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
        responses=documented(400, 401, 409, 415, 422, 429),
    )
    def place_order(body: PlaceOrderRequest, post: Post) -> Response:
        command = body.command(post.command_id, order_id(post.scope), post.scope.tenant)

        def execute() -> Receipt:
            try:
                return system.orders.execute(command)
            except NotFoundError as missing:  # a SKU the body names: the request is at fault
                raise ProblemError(from_domain_error(missing, status=422)) from None

        return gate.run(post, execute, _placed)

    @api.get("/orders/{order_id}", response_model=OrderView, responses=documented(401, 404, 422))
    def get_order(order_id: UUID, tenant_id: Tenant) -> OrderView:
        order = owned_order(order_id, tenant_id)
        payment = _found(lambda: system.payments.payment_of(order.id), UnknownPaymentError)
        shipment = _found(lambda: system.fulfillment.shipment_of(order.id), UnknownShipmentError)
        return OrderView.of(order, payment, shipment, _address(system.vault, order))

    @api.post(
        "/orders/{order_id}/cancel",
        response_model=OrderReceipt,
        responses=documented(400, 401, 404, 409, 415, 422, 429),
    )
    def cancel_order(order_id: UUID, post: Post, body: CancelRequest | None = None) -> Response:
        owned_order(order_id, post.scope.tenant)
        command = (body or CancelRequest()).command(post.command_id, order_id)
        return gate.run(post, lambda: system.orders.execute(command), _changed)

    @api.get("/inventory/{sku}", response_model=StockView, responses=documented(401, 404, 422))
    def get_stock(sku: str, tenant_id: Tenant) -> StockView:
        return StockView.of(system.inventory.stock_item(sku, tenant_id))

    @api.post(
        "/inventory/{sku}/restock",
        response_model=StockReceipt,
        responses=documented(400, 401, 409, 415, 422, 429),
    )
    def restock(sku: str, body: RestockRequest, post: Post) -> Response:
        command = body.command(post.command_id, sku, post.scope.tenant)
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
