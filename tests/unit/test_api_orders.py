"""Orders and stock over HTTP, in memory: what a client reads back, and that an order belongs
to the tenant that placed it."""

from dataclasses import replace
from uuid import UUID, uuid4

from support.api import ACME, GLOBEX, api_client, headers, key, order_body, restock
from support.orders import OrderFlows, sealed_address, sealed_token

from domain.fulfillment import RequestShipment
from domain.money import Money
from domain.orders import Order, OrderLine, PlaceOrder
from domain.payments import AuthorizePayment
from services.bootstrap import System

from .scenario import ADDRESS, unique


def test_a_placed_order_reads_back_with_its_lines_and_no_payment_or_shipment_yet(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))

    placed = api.post("/v1/orders", json=order_body(sku, quantity=3), headers=headers(key())).json()
    read = api.get(f"/v1/orders/{placed['order_id']}", headers=ACME)

    assert placed == {"order_id": placed["order_id"], "status": "placed", "total_cents": 3750}
    assert read.status_code == 200
    assert read.json() | {"order_id": None} == {
        "order_id": None,
        "status": "placed",
        "customer_id": "customer-42",
        "currency": "EUR",
        "total_cents": 3750,
        "lines": [{"sku": sku, "quantity": 3, "unit_price_cents": 1250}],
        "shipping_address": order_body(sku)["shipping_address"],
        "reason": "",
        "payment": None,
        "shipment": None,
    }


def test_an_order_reads_back_with_its_payment_and_shipment_once_they_exist(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    order_id = UUID(api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"])
    system.payments.execute(
        AuthorizePayment(
            command_id=unique("pay"), order_id=order_id, amount=Money(2500, "EUR"), token=sealed_token(system)
        )
    )
    system.fulfillment.execute(
        RequestShipment(command_id=unique("req"), order_id=order_id, destination=sealed_address(system))
    )
    for gateway in system.gateways():  # the provider approves, the carrier books
        gateway.perform_due()

    read = api.get(f"/v1/orders/{order_id}", headers=ACME).json()

    assert read["payment"] == {"status": "authorized", "captured_cents": 0, "refunded_cents": 0}
    tracking_id = system.fulfillment.shipment_of(order_id).tracking_id
    assert tracking_id and read["shipment"] == {"status": "booked", "tracking_id": tracking_id}


def test_another_tenant_can_neither_read_nor_cancel_an_order_and_learns_nothing(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    order_id = api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"]
    nobodys = "00000000-0000-4000-8000-000000000000"

    read = api.get(f"/v1/orders/{order_id}", headers=GLOBEX)
    cancel = api.post(f"/v1/orders/{order_id}/cancel", headers=headers(key(), GLOBEX))
    missing = api.get(f"/v1/orders/{nobodys}", headers=GLOBEX)

    assert (read.status_code, cancel.status_code) == (404, 404)
    assert read.json()["type"] == missing.json()["type"]
    assert read.json()["detail"] == missing.json()["detail"].replace(nobodys, order_id)
    assert api.get(f"/v1/orders/{order_id}", headers=ACME).json()["status"] == "placed"


def test_two_tenants_using_the_same_key_place_two_orders(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    restock(api, sku, auth=GLOBEX)
    shared = key()

    acme = api.post("/v1/orders", json=order_body(sku), headers=headers(shared, ACME))
    globex = api.post("/v1/orders", json=order_body(sku), headers=headers(shared, GLOBEX))

    assert (acme.status_code, globex.status_code) == (201, 201)
    assert "idempotent-replayed" not in globex.headers
    assert acme.json()["order_id"] != globex.json()["order_id"]


def test_a_cancelled_order_reads_back_cancelled_with_its_reason(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    order_id = api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"]

    cancelled = api.post(
        f"/v1/orders/{order_id}/cancel", json={"reason": "changed my mind"}, headers=headers(key())
    )

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    read = api.get(f"/v1/orders/{order_id}", headers=ACME).json()
    assert (read["status"], read["reason"]) == ("cancelled", "changed my mind")


def test_restocking_shows_in_the_stock_a_client_reads(system: System) -> None:
    api = api_client(system)
    sku = unique("SKU")

    restocked = api.post(f"/v1/inventory/{sku}/restock", json={"quantity": 7}, headers=headers(key()))
    again = api.post(f"/v1/inventory/{sku}/restock", json={"quantity": 3}, headers=headers(key()))

    assert (restocked.json(), again.json()) == ({"sku": sku, "available": 7}, {"sku": sku, "available": 10})
    read = api.get(f"/v1/inventory/{sku}", headers=ACME)  # the tenant's own stock
    assert read.json() == {"sku": sku, "available": 10, "reserved": 0, "shipped": 0}
    assert api.get(f"/v1/inventory/{unique('SKU')}", headers=ACME).status_code == 404


def test_an_order_placed_in_process_belongs_to_no_tenant(system: System) -> None:
    api = api_client(system)
    OrderFlows(system).restock(sku := unique("SKU"), 1)
    order_id = uuid4()
    system.orders.execute(
        PlaceOrder(
            command_id=unique("place"),
            order_id=order_id,
            customer_id="c",
            currency="EUR",
            lines=(OrderLine(sku, 1, Money(100, "EUR")),),
            shipping_address=ADDRESS,
            payment_token="tok_ok",
        )
    )

    assert system.orders.order(order_id).tenant_id == ""
    assert api.get(f"/v1/orders/{order_id}", headers=ACME).status_code == 404


def test_an_order_stored_before_tenants_existed_loads_with_no_tenant(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    order_id = UUID(api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"])
    stored = system.orders.recorder.select_events(order_id, limit=1)[0]
    transcoder = system.orders.mapper.transcoder
    state = transcoder.decode(stored.state)
    del state["tenant_id"]

    placed = system.orders.mapper.to_domain_event(replace(stored, state=transcoder.encode(state)))
    assert isinstance(placed, Order.Placed)
    order = placed.mutate(None)

    assert isinstance(order, Order)
    assert (order.tenant_id, order.customer_id) == ("", "customer-42")
