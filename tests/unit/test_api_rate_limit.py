"""Writes are rate-limited per API key (ApiConfig.write_rate_limit): past the limit a POST is
a 429 problem with Retry-After that changes nothing and uses up no Idempotency-Key. Only the
requests the API executes are counted: a replay of a kept answer is answered whatever the
limit, and another key's writes are counted on their own."""

from fastapi.testclient import TestClient
from support.api import (
    ACME,
    API_KEYS,
    GLOBEX,
    PROBLEM,
    WEBHOOK_SECRET,
    api_client,
    headers,
    key,
    order_body,
    restock,
)

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.api.problems import RATE_LIMITED
from services.api.routes import order_id
from services.api.store import Scope
from services.bootstrap import System

from .scenario import unique

LIMIT = 3


def limited(system: System) -> TestClient:
    config = ApiConfig(
        api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET, write_rate_limit=f"{LIMIT}/minute"
    )
    return TestClient(create_app(system, InMemoryIdempotencyStore(), InMemoryWebhookStore(), config))


def test_past_the_limit_a_write_is_a_429_with_retry_after_that_places_nothing(system: System) -> None:
    restock(api_client(system), sku := unique("SKU"))  # through an app of its own: not counted
    api = limited(system)
    keys = [key() for _ in range(LIMIT + 1)]

    answers = [api.post("/v1/orders", json=order_body(sku), headers=headers(k)) for k in keys]
    again = api.post("/v1/orders", json=order_body(sku), headers=headers(keys[-1]))

    assert [a.status_code for a in answers] == [201] * LIMIT + [429]
    refused = answers[-1]
    assert (refused.headers["content-type"], refused.json()["type"]) == (PROBLEM, RATE_LIMITED.uri)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert again.status_code == 429  # not 409: the refused request left no claim behind
    unplaced = order_id(Scope("acme", "POST", "/v1/orders", keys[-1]))
    assert api.get(f"/v1/orders/{unplaced}", headers=ACME).status_code == 404


def test_replays_of_kept_answers_are_not_counted_and_another_key_has_its_own_limit(system: System) -> None:
    sku = unique("SKU")
    for tenant in (ACME, GLOBEX):  # through an app of its own: not counted
        restock(api_client(system), sku, auth=tenant)
    api = limited(system)
    keys = [key() for _ in range(LIMIT)]
    placed = [api.post("/v1/orders", json=order_body(sku), headers=headers(k)) for k in keys]

    replays = [api.post("/v1/orders", json=order_body(sku), headers=headers(k)) for k in keys * 3]
    theirs = api.post("/v1/orders", json=order_body(sku), headers=headers(key(), GLOBEX))
    ours = api.post("/v1/orders", json=order_body(sku), headers=headers(key()))

    assert [p.status_code for p in placed] == [201] * LIMIT
    assert [(r.status_code, r.headers.get("idempotent-replayed")) for r in replays] == [
        (201, "true")
    ] * 3 * LIMIT
    assert [r.content for r in replays] == [p.content for p in placed] * 3
    assert (theirs.status_code, ours.status_code) == (201, 429)
