"""Every error is an RFC 9457 problem: FastAPI's and Starlette's own answers (404, 405, 422)
included, the body limit (declared or streamed), media types, crashes and domain errors, each
with a stable type."""

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from eventsourcing import persistence
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout
from support.api import ACME, PROBLEM, WEBHOOK_SECRET, api_client, headers, key, order_body, restock

from domain.orders import AdvanceOrder, OrderStatus
from infrastructure.idempotency_store import InMemoryIdempotencyStore, Response, Scope
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.api.problems import KEY_REUSED, TYPE_PREFIX
from services.bootstrap import System

from .scenario import unique

Request = Callable[[TestClient], httpx.Response]


def streamed(size: int) -> Iterator[bytes]:
    """A body sent in chunks, with no Content-Length."""
    for _ in range(size // 1024):
        yield b" " * 1024


ERRORS: dict[str, tuple[Request, int]] = {
    "no API key": (lambda api: api.get("/v1/inventory/SKU-1"), 401),
    "unknown API key": (
        lambda api: api.get("/v1/inventory/SKU-1", headers={"Authorization": "Bearer x"}),
        401,
    ),
    "no such route": (lambda api: api.get("/v2/orders", headers=ACME), 404),
    "no such order": (lambda api: api.get(f"/v1/orders/{UUID(int=1)}", headers=ACME), 404),
    "wrong method": (lambda api: api.put("/v1/orders", headers=ACME), 405),
    "declared too large": (
        lambda api: api.post("/v1/orders", content=b" " * 65_537, headers=json_headers()),
        413,
    ),
    "streamed too large": (
        lambda api: api.post("/v1/orders", content=streamed(70 * 1024), headers=json_headers()),
        413,
    ),
    "not json": (
        lambda api: api.post("/v1/orders", content=b"<order/>", headers=json_headers("application/xml")),
        415,
    ),
    "malformed json": (lambda api: api.post("/v1/orders", content=b"{", headers=json_headers()), 422),
    "unknown field": (
        lambda api: api.post("/v1/orders", json=order_body("SKU-1", coupon="FREE"), headers=headers(key())),
        422,
    ),
    "a string for a number": (
        lambda api: api.post("/v1/inventory/SKU-1/restock", json={"quantity": "3"}, headers=headers(key())),
        422,
    ),
    "invalid currency": (
        lambda api: api.post("/v1/orders", json=order_body("SKU-1", currency="eur"), headers=headers(key())),
        422,
    ),
    "missing key": (lambda api: api.post("/v1/orders", json=order_body("SKU-1"), headers=ACME), 400),
}


def json_headers(content_type: str = "application/json") -> dict[str, str]:
    return {**headers(key()), "Content-Type": content_type}


@pytest.mark.parametrize(("send", "status"), ERRORS.values(), ids=ERRORS.keys())
def test_every_error_is_a_problem_whose_status_matches_the_response(
    system: System, send: Request, status: int
) -> None:
    answer = send(api_client(system))
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["type"] == "about:blank" or problem["type"].startswith(TYPE_PREFIX)


def test_validation_problems_name_each_field_that_failed(system: System) -> None:
    body = order_body("SKU-1", coupon="FREE", currency=3)
    problem = api_client(system).post("/v1/orders", json=body, headers=headers(key())).json()
    assert sorted(e["loc"] for e in problem["errors"]) == [["body", "coupon"], ["body", "currency"]]


def test_the_401_tells_the_client_how_to_authenticate(system: System) -> None:
    answer = api_client(system).get("/v1/inventory/SKU-1")
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_the_405_names_the_allowed_methods(system: System) -> None:
    assert api_client(system).put("/v1/orders", headers=ACME).headers["allow"] == "POST"


def test_domain_errors_take_a_stable_type_from_their_code(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    order_id = api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"]
    for step in (OrderStatus.RESERVED, OrderStatus.PAID, OrderStatus.FULFILLING, OrderStatus.SHIPPED):
        system.orders.execute(AdvanceOrder(command_id=unique("a"), order_id=UUID(order_id), step=step))

    unknown = api.post("/v1/orders", json=order_body(unique("SKU")), headers=headers(key())).json()
    refused = api.post(f"/v1/orders/{order_id}/cancel", headers=headers(key())).json()

    assert (unknown["status"], unknown["type"]) == (422, "tag:idempotent-orders,2026:problem/unknown-sku")
    assert (refused["status"], refused["type"]) == (409, "tag:idempotent-orders,2026:problem/order-shipped")
    assert KEY_REUSED.uri == "tag:idempotent-orders,2026:problem/idempotency-key-reused"


class Crashes(InMemoryIdempotencyStore):
    def complete(self, scope: Scope, token: str, response: Response) -> None:
        raise RuntimeError("the store broke")


def test_a_crash_is_a_500_problem_that_says_nothing_of_its_cause(system: System) -> None:
    config = ApiConfig(api_keys={"key-acme": "acme"}, psp_webhook_secret=WEBHOOK_SECRET)
    app = create_app(system, Crashes(), InMemoryWebhookStore(), config)
    api = TestClient(app, raise_server_exceptions=False)

    answer = api.post("/v1/inventory/SKU-1/restock", json={"quantity": 1}, headers=headers(key()))

    assert (answer.status_code, answer.headers["content-type"]) == (500, PROBLEM)
    assert answer.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500}


class DatabaseDown(InMemoryIdempotencyStore):
    """Fails as the PostgreSQL store does while its database is away."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def claim(self, *args: Any) -> Any:
        raise self.error


UNREACHABLE = 'connection to server at "10.20.30.40", port 5432 failed: Connection refused'
OUTAGES = {
    "psycopg OperationalError": psycopg.OperationalError(UNREACHABLE),
    "psycopg InterfaceError": psycopg.InterfaceError(f"the connection is closed: {UNREACHABLE}"),
    "pool timeout": PoolTimeout(f"couldn't get a connection after 30.00 sec: {UNREACHABLE}"),
    "eventsourcing OperationalError": persistence.OperationalError(UNREACHABLE),
    "eventsourcing InterfaceError": persistence.InterfaceError(UNREACHABLE),
}


def answering(system: System, store: InMemoryIdempotencyStore) -> TestClient:
    """The API as a server runs it: a crash is answered (500), not raised into the test."""
    config = ApiConfig(api_keys={"key-acme": "acme"}, psp_webhook_secret=WEBHOOK_SECRET)
    return TestClient(
        create_app(system, store, InMemoryWebhookStore(), config), raise_server_exceptions=False
    )


def assert_unavailable(answer: httpx.Response) -> None:
    assert (answer.status_code, answer.headers["content-type"]) == (503, PROBLEM), answer.text
    assert "10.20.30.40" not in answer.text
    assert answer.headers["retry-after"].isdigit()


@pytest.mark.parametrize("error", OUTAGES.values(), ids=OUTAGES.keys())
def test_a_write_while_the_database_is_away_is_a_503_with_retry_after(
    system: System, error: Exception
) -> None:
    api = answering(system, DatabaseDown(error))

    assert_unavailable(api.post("/v1/orders", json=order_body("SKU-1"), headers=headers(key())))


@pytest.mark.parametrize("error", OUTAGES.values(), ids=OUTAGES.keys())
def test_a_read_while_the_database_is_away_is_a_503_with_retry_after(
    system: System, error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*_: object) -> None:
        raise error

    monkeypatch.setattr(system.orders, "order", unreachable)
    monkeypatch.setattr(system.inventory, "stock_item", unreachable)
    api = answering(system, InMemoryIdempotencyStore())

    assert_unavailable(api.get(f"/v1/orders/{UUID(int=1)}", headers=ACME))
    assert_unavailable(api.get("/v1/inventory/SKU-1", headers=ACME))


def test_the_openapi_document_lists_429_and_503_with_retry_after_where_they_may_be_answered(
    system: System,
) -> None:
    paths = api_client(system).get("/openapi.json").json()["paths"]
    listed = {
        (method.upper(), path): operation["responses"]
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    writes = {  # every write behind the Idempotency-Key gate, a generated context's included
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if any(parameter["name"] == "Idempotency-Key" for parameter in operation.get("parameters", []))
    }
    assert {
        ("POST", "/v1/orders"),
        ("POST", "/v1/orders/{order_id}/cancel"),
        ("POST", "/v1/inventory/{sku}/restock"),
    } <= writes
    on_the_database = {operation for operation in listed if operation[1].startswith("/v1/")} | {
        ("GET", "/readyz")
    }

    assert {operation for operation, responses in listed.items() if "429" in responses} == writes
    assert {operation for operation, responses in listed.items() if "503" in responses} == on_the_database
    for responses in listed.values():
        for status in {"429", "503"} & responses.keys():
            assert "Retry-After" in responses[status]["headers"]
