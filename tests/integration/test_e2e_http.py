"""End to end over HTTP against `orders run`, as a client would see it: an order paid with a
token whose first authorization answer is lost (tok_timeout_after_charge) and one whose
first authorization request fails before charging (tok_error_before_charge) each complete,
and the provider's own ledger (GET /charges) shows exactly one approved authorization and
one approved capture of the order's total, nothing else approved.

Only HTTP is used, as a client and an auditor would: the orders API to stock, place and
read, the provider simulator to audit. The saga's gateway retries under the same
idempotency key, so the provider answers a retry from its record instead of charging again.
The gateway timeout is short here, so the lost answer costs a little over a second."""

import subprocess
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from support.isolation import on_free_ports, wait_until
from support.running import ORDER_TIMEOUT_S

from domain.orders import TERMINAL, OrderStatus
from infrastructure.settings import Settings
from infrastructure.simulators.psp import tokens
from services.api.schemas import EXAMPLE_ORDER

pytestmark = pytest.mark.integration

FAULTS = [tokens.TIMEOUT_AFTER_CHARGE, tokens.ERROR_BEFORE_CHARGE]
GATEWAY_TIMEOUT_S = 1.5
UNIT_PRICE_CENTS = 1250


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings, on free ports, with a gateway timeout short enough that waiting
    out the lost answer is cheap."""
    return on_free_ports(settings).replace(gateway_timeout_s=GATEWAY_TIMEOUT_S)


@pytest.fixture
def api(settings: Settings, orders_run: subprocess.Popen[bytes]) -> Iterator[httpx.Client]:
    """A client of the running system's API, as the settings' first tenant, once it is ready."""
    _, key = settings.api_keys[0]
    url = f"http://127.0.0.1:{settings.api_port}"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        wait_until(lambda: ready(client), "the API to answer /readyz", timeout_s=60)
        yield client


def test_orders_paid_through_payment_faults_complete_with_exactly_one_charge_each(
    settings: Settings, api: httpx.Client
) -> None:
    sku = f"SKU-{uuid4().hex[:8]}"
    restocked = api.post(f"/v1/inventory/{sku}/restock", json={"quantity": len(FAULTS)}, headers=fresh_key())
    assert restocked.status_code == 200, restocked.text
    placed = {token: place(api, sku, token) for token in FAULTS}  # both on their way at once

    for token, order_id in placed.items():
        order = ended(api, order_id)
        assert order["status"] == OrderStatus.COMPLETED, (token, order)
        total = order["total_cents"]
        assert total == UNIT_PRICE_CENTS
        assert order["payment"]["captured_cents"] == total, (token, order)
        approved = [
            (c["operation"], c["amount_cents"])
            for c in charges(settings, order_id)
            if c["status"] == "approved"
        ]
        assert approved == [("authorize", total), ("capture", total)], token


def place(api: httpx.Client, sku: str, token: str) -> UUID:
    """POST /v1/orders for one unit of `sku`, paid with `token`; the new order's id."""
    body = EXAMPLE_ORDER | {
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": UNIT_PRICE_CENTS}],
        "payment": {"token": token},
    }
    placed = api.post("/v1/orders", json=body, headers=fresh_key())
    assert placed.status_code == 201, placed.text
    return UUID(placed.json()["order_id"])


def charges(settings: Settings, order_id: UUID) -> list[dict[str, Any]]:
    """Every operation the provider simulator's ledger files under the order, oldest first."""
    url = f"http://127.0.0.1:{settings.psp_port}/charges"
    listed: list[dict[str, Any]] = (
        httpx.get(url, params={"order_id": str(order_id)}, timeout=10).raise_for_status().json()["charges"]
    )
    return listed


def ready(client: httpx.Client) -> bool | None:
    """True once the API answers /readyz with 200; None while it is not up or not ready."""
    try:
        return client.get("/readyz").status_code == 200 or None
    except httpx.TransportError:
        return None


def ended(api: httpx.Client, order_id: UUID) -> dict[str, Any]:
    """GET /v1/orders/{order_id} once the order has ended, however it ended."""

    def view() -> dict[str, Any] | None:
        order: dict[str, Any] = api.get(f"/v1/orders/{order_id}").raise_for_status().json()
        return order if order["status"] in TERMINAL else None

    found: dict[str, Any] = wait_until(
        view, f"order {order_id} to end", timeout_s=ORDER_TIMEOUT_S, every_s=0.2
    )
    return found


def fresh_key() -> dict[str, str]:
    return {"Idempotency-Key": f"e2e-{uuid4().hex}"}
