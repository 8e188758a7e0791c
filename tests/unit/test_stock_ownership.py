"""Stock belongs to a tenant: each tenant restocks, reads and draws on its own stock of a SKU,
and to any other tenant that stock does not exist. Checked in the domain, in the inventory
context, over the HTTP API and through the saga."""

from collections.abc import Iterator
from dataclasses import replace
from uuid import UUID, uuid4

import pytest
from support.api import ACME, GLOBEX, PROBLEM, api_client, headers, key, order_body, restock

from domain.errors import UnknownSkuError
from domain.ids import stock_item_id
from domain.inventory import ReserveStock, RestockSku, StockItem
from domain.orders import OrderStatus
from services.bootstrap import System

from .saga_world import World, make_world
from .scenario import event, then, trace, unique


@pytest.fixture
def world() -> Iterator[World]:
    world = make_world()
    yield world
    world.close()


def restocked(system: System, sku: str, quantity: int, tenant_id: str) -> None:
    command = RestockSku(command_id=unique("restock"), sku=sku, quantity=quantity, tenant_id=tenant_id)
    system.inventory.execute(command)


def counters(system: System, sku: str, tenant_id: str) -> tuple[int, int, int]:
    item = system.inventory.stock_item(sku, tenant_id)
    return item.available, item.reserved, item.shipped


def test_each_tenant_s_stock_of_a_sku_is_an_item_of_its_own_whose_events_name_the_tenant() -> None:
    item = StockItem.register("SKU-1", trace(), tenant_id="acme")
    item.restock(3, trace())

    then(
        item,
        event(
            StockItem.Registered, sku="SKU-1", tenant_id="acme", originator_id=stock_item_id("SKU-1", "acme")
        ),
        event(StockItem.Restocked, sku="SKU-1", tenant_id="acme", quantity=3),
    )
    assert len({stock_item_id("SKU-1", t) for t in ("acme", "globex", "")}) == 3


def test_a_tenant_s_reservation_never_draws_on_another_tenant_s_stock(system: System) -> None:
    sku = unique("SKU")
    restocked(system, sku, 5, "acme")
    theirs = ReserveStock(
        command_id=unique("reserve"), order_id=uuid4(), lines=((sku, 2),), tenant_id="globex"
    )

    with pytest.raises(UnknownSkuError):
        system.inventory.execute(theirs)
    assert counters(system, sku, "acme") == (5, 0, 0)

    restocked(system, sku, 2, "globex")
    system.inventory.execute(theirs)
    assert counters(system, sku, "globex") == (0, 2, 0)
    assert counters(system, sku, "acme") == (5, 0, 0)


def test_over_http_a_tenant_cannot_read_another_tenant_s_stock_and_learns_nothing(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"), 7)

    own = api.get(f"/v1/inventory/{sku}", headers=ACME)
    theirs = api.get(f"/v1/inventory/{sku}", headers=GLOBEX)
    nobodys = api.get(f"/v1/inventory/{unique('SKU')}", headers=GLOBEX)

    assert own.json() == {"sku": sku, "available": 7, "reserved": 0, "shipped": 0}
    assert (theirs.status_code, theirs.headers["content-type"]) == (404, PROBLEM)
    assert theirs.json()["type"] == nobodys.json()["type"]


def test_over_http_a_restock_adds_to_the_caller_s_own_stock_only(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"), 7)

    theirs = api.post(f"/v1/inventory/{sku}/restock", json={"quantity": 2}, headers=headers(key(), GLOBEX))

    assert theirs.json() == {"sku": sku, "available": 2}
    assert api.get(f"/v1/inventory/{sku}", headers=ACME).json()["available"] == 7
    assert api.get(f"/v1/inventory/{sku}", headers=GLOBEX).json()["available"] == 2


def test_over_http_an_order_for_a_sku_only_another_tenant_stocks_is_refused(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))

    theirs = api.post("/v1/orders", json=order_body(sku), headers=headers(key(), GLOBEX))
    own = api.post("/v1/orders", json=order_body(sku), headers=headers(key(), ACME))

    assert (theirs.status_code, theirs.json()["code"]) == (422, "unknown_sku")
    assert own.status_code == 201


def test_through_the_saga_each_tenant_s_order_ships_from_its_own_stock(world: World) -> None:
    api = api_client(world.system)
    sku = unique("SKU")
    restocked(world.system, sku, 5, "acme")
    restocked(world.system, sku, 4, "globex")

    acme = api.post("/v1/orders", json=order_body(sku, quantity=1), headers=headers(key(), ACME))
    globex = api.post("/v1/orders", json=order_body(sku, quantity=3), headers=headers(key(), GLOBEX))
    world.pump.drain()

    for placed in (acme, globex):
        assert world.order(UUID(placed.json()["order_id"])).status is OrderStatus.COMPLETED
    assert counters(world.system, sku, "acme") == (4, 0, 1)
    assert counters(world.system, sku, "globex") == (1, 0, 3)


def test_through_the_saga_a_stopped_order_releases_its_own_tenant_s_stock(world: World) -> None:
    api = api_client(world.system)
    sku = unique("SKU")
    restocked(world.system, sku, 5, "acme")
    restocked(world.system, sku, 5, "globex")
    placed = api.post("/v1/orders", json=order_body(sku, quantity=2), headers=headers(key(), GLOBEX))
    order_id = UUID(placed.json()["order_id"])
    world.pump.drain(until=lambda: world.order(order_id).status is OrderStatus.RESERVED)

    api.post(f"/v1/orders/{order_id}/cancel", headers=headers(key(), GLOBEX))
    world.pump.drain()

    assert world.order(order_id).compensations == ["stock_released"]
    assert counters(world.system, sku, "globex") == (5, 0, 0)
    assert counters(world.system, sku, "acme") == (5, 0, 0)


def test_stock_stored_before_tenants_owned_it_loads_as_the_in_process_tenant_s(system: System) -> None:
    sku = unique("SKU")
    restocked(system, sku, 4, "")
    mapper = system.inventory.mapper
    stored = []
    for each in system.inventory.recorder.select_events(stock_item_id(sku)):
        state = mapper.transcoder.decode(each.state)
        del state["tenant_id"], state["class_version"]  # as events were stored before
        stored.append(mapper.to_domain_event(replace(each, state=mapper.transcoder.encode(state))))

    item = None
    for each in stored:
        item = each.mutate(item)

    assert isinstance(item, StockItem)
    assert (item.tenant_id, item.sku, item.available) == ("", sku, 4)
    assert [each.tenant_id for each in stored] == ["", ""]
