"""`orders api` as a real process on PostgreSQL, over real HTTP: 20 concurrent copies of one
POST make one order and get one answer; a key reused with another body, a missing key, another
tenant's key and another tenant's order are each answered as documented. The saga is not
running, so orders stay "placed"."""

import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from psycopg import sql
from support.api_process import Api, serving
from support.isolation import wait_until

from infrastructure.settings import Settings
from services.api.problems import KEY_MISSING, KEY_REUSED, UNAUTHENTICATED
from services.api.schemas import EXAMPLE_ORDER

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with serving(database_url, tmp_path_factory.mktemp("api") / "api.log") as api:
        yield api


def order(sku: str, quantity: int = 1) -> dict[str, Any]:
    return EXAMPLE_ORDER | {"lines": [{"sku": sku, "quantity": quantity, "unit_price_cents": 500}]}


def stocked(api: Api, *tenants: str) -> str:
    """A new SKU, stocked by each of `tenants` (acme if none): each orders from its own stock."""
    sku = f"SKU-{uuid4().hex[:10]}"
    for tenant in tenants or ("acme",):
        with api.client(tenant) as client:
            answer = client.post(f"/v1/inventory/{sku}/restock", json={"quantity": 50}, headers=key())
            assert answer.status_code == 200, answer.text
    return sku


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"it-{uuid4().hex}"}


def answered(client: httpx.Client, body: dict[str, Any], headers: dict[str, str]) -> list[httpx.Response]:
    """POST until the answer is not "in flight" (409), as a client following Retry-After would."""
    answers: list[httpx.Response] = []

    def attempt() -> httpx.Response | None:
        answers.append(client.post("/v1/orders", json=body, headers=headers))
        return answers[-1] if answers[-1].status_code != 409 else None

    wait_until(attempt, "an answer other than 409", every_s=0.05)
    return answers


def count(settings: Settings, rows: str, *params: object) -> int:
    """SELECT count(*) FROM <the test's schema>.<rows>."""
    schema = sql.Identifier(settings.postgres_schema)
    query = sql.SQL("SELECT count(*) FROM {}.").format(schema) + sql.SQL(rows)
    with psycopg.connect(settings.database_url or "") as conn:
        found = conn.execute(query, params).fetchone()
    assert found is not None
    return int(found[0])


def test_twenty_concurrent_copies_of_one_post_make_one_order_and_get_one_answer(api: Api) -> None:
    sku, same = stocked(api), key()
    start, results = threading.Barrier(20), []

    def post() -> None:
        with api.client() as client:
            start.wait()
            results.append(answered(client, order(sku), same))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 20
    for answers in results:
        assert [a.status_code for a in answers] == [409] * (len(answers) - 1) + [201]
        assert all(a.headers["retry-after"] == "1" for a in answers[:-1])
    bodies = {answers[-1].content for answers in results}
    assert len(bodies) == 1
    order_id = results[0][-1].json()["order_id"]
    assert count(api.settings, "orders_commands WHERE outcome->'result'->>'order_id' = %s", order_id) == 1
    assert count(api.settings, "orders_events WHERE originator_id = %s", UUID(order_id)) == 1


def test_the_same_key_with_another_body_is_a_422_of_the_mismatch_type(api: Api) -> None:
    sku, same = stocked(api), key()
    with api.client() as client:
        assert client.post("/v1/orders", json=order(sku, 1), headers=same).status_code == 201
        other = client.post("/v1/orders", json=order(sku, 2), headers=same)
    assert (other.status_code, other.json()["type"]) == (422, KEY_REUSED.uri)


def test_a_post_without_a_key_is_a_400_and_without_an_api_key_a_401(api: Api) -> None:
    with api.client() as client:
        missing = client.post("/v1/orders", json=order("SKU-1"))
    anonymous = httpx.post(f"{api.url}/v1/orders", json=order("SKU-1"), headers=key())
    assert (missing.status_code, missing.json()["type"]) == (400, KEY_MISSING.uri)
    assert (anonymous.status_code, anonymous.json()["type"]) == (401, UNAUTHENTICATED.uri)


def test_another_tenant_reusing_a_key_gets_its_own_result_and_cannot_see_the_first_order(api: Api) -> None:
    sku, same = stocked(api, "acme", "globex"), key()
    with api.client("acme") as acme, api.client("globex") as globex:
        first = acme.post("/v1/orders", json=order(sku), headers=same)
        theirs = globex.post("/v1/orders", json=order(sku), headers=same)
        peek = globex.get(first.headers["location"])
        own = acme.get(first.headers["location"])

    assert (first.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["order_id"] != first.json()["order_id"]
    assert peek.status_code == 404
    assert (own.status_code, own.json()["status"]) == (200, "placed")
