"""NUL characters sent to a real `orders api` on PostgreSQL.

In memory a NUL is just another character. PostgreSQL's text and jsonb columns refuse it, so a
NUL that reaches a statement fails the request with a 5xx. A NUL in the SKU of the restock path
did: the path is part of the key's scope, which is claimed before the command runs. Here each
NUL is refused with a 4xx problem, no row of any table in the API's schema changes (events,
command logs, idempotency claims), and the corrected request with the same key succeeds. The
other bad input behaves as in memory (tests/unit/test_api_bad_input.py).
"""

from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from support.api_process import Api, serving

from services.api.schemas import EXAMPLE_ORDER

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with serving(database_url, tmp_path_factory.mktemp("api") / "api.log") as api:
        yield api


def order(sku: str, name: str = "Ada Lovelace", **changes: Any) -> dict[str, Any]:
    line = {"sku": sku, "quantity": 1, "unit_price_cents": 500}
    address = EXAMPLE_ORDER["shipping_address"] | {"name": name}
    return EXAMPLE_ORDER | {"lines": [line], "shipping_address": address} | changes


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"it-{uuid4().hex}"}


def rows(api: Api) -> dict[str, int]:
    """How many rows each table in the API's schema holds."""
    schema = api.settings.postgres_schema
    with psycopg.connect(api.settings.database_url or "", autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        counts = {}
        for (table,) in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
            found = conn.execute(query).fetchone()
            assert found is not None
            counts[table] = int(found[0])
    return counts


@pytest.fixture
def placed(api: Api) -> tuple[str, str]:
    """A SKU of its own, in stock, and an order of it: (sku, order id)."""
    sku = f"SKU-{uuid4().hex[:10]}"
    with api.client() as client:
        restocked = client.post(f"/v1/inventory/{sku}/restock", json={"quantity": 50}, headers=key())
        assert restocked.status_code == 200, restocked.text
        answer = client.post("/v1/orders", json=order(sku), headers=key())
        assert answer.status_code == 201, answer.text
    return sku, answer.json()["order_id"]


ORDERS, CANCEL, RESTOCK = "/v1/orders", "/v1/orders/{order_id}/cancel", "/v1/inventory/{sku}/restock"
Body = Callable[[str], dict[str, Any]]  # the body, given the SKU in stock


def five(sku: str) -> dict[str, Any]:
    return {"quantity": 5}


# what: (the path, the body refused, the path and body of the corrected request)
CASES: dict[str, tuple[str, Body, str, Body]] = {
    "a NUL in the SKU of the restock path": ("/v1/inventory/{sku}%00/restock", five, RESTOCK, five),
    "a NUL in a name": (ORDERS, lambda sku: order(sku, name="Ada\u0000"), ORDERS, order),
    "a NUL in a SKU of the order": (ORDERS, lambda sku: order(sku + "\u0000"), ORDERS, order),
    "a NUL as a member name": (ORDERS, lambda sku: order(sku, **{"\u0000": "x"}), ORDERS, order),
    "a NUL in the reason to cancel": (
        CANCEL,
        lambda sku: {"reason": "changed my mind\u0000"},
        CANCEL,
        lambda sku: {"reason": "changed my mind"},
    ),
}


@pytest.mark.parametrize(("path", "refused", "retry_path", "corrected"), CASES.values(), ids=CASES.keys())
def test_a_nul_is_a_problem_that_stores_nothing_and_leaves_the_key_free(
    api: Api, placed: tuple[str, str], path: str, refused: Body, retry_path: str, corrected: Body
) -> None:
    sku, order_id = placed
    same, before = key(), rows(api)
    with api.client() as client:
        answer = client.post(path.format(sku=sku, order_id=order_id), json=refused(sku), headers=same)
        stored = rows(api)
        retry = client.post(retry_path.format(sku=sku, order_id=order_id), json=corrected(sku), headers=same)

    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert {"status", "type", "title"} <= answer.json().keys()
    assert stored == before
    assert retry.status_code in (200, 201), retry.text
    assert "idempotent-replayed" not in retry.headers
