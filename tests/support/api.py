"""The HTTP API in process, over an in-memory System: two tenants, their keys, an order body,
and the secret the provider's webhooks are signed with."""

import copy
from datetime import timedelta
from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.api.schemas import EXAMPLE_ORDER
from services.api.store import IdempotencyStore
from services.api.webhook_store import WebhookStore
from services.bootstrap import System

API_KEYS = {"key-acme": "acme", "key-globex": "globex"}
ACME = {"Authorization": "Bearer key-acme"}
GLOBEX = {"Authorization": "Bearer key-globex"}
PROBLEM = "application/problem+json"
WEBHOOK_SECRET = "test-webhook-secret"


def api_client(
    system: System,
    store: IdempotencyStore | None = None,
    lease: timedelta = timedelta(seconds=30),
    ttl: timedelta = timedelta(hours=24),
    webhook_store: WebhookStore | None = None,
) -> TestClient:
    config = ApiConfig(api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET, lease=lease, ttl=ttl)
    stores = (store or InMemoryIdempotencyStore(), webhook_store or InMemoryWebhookStore())
    return TestClient(create_app(system, *stores, config))


def key() -> str:
    return f"key-{uuid4().hex}"


def headers(idempotency_key: str, auth: dict[str, str] = ACME) -> dict[str, str]:
    return {**auth, "Idempotency-Key": idempotency_key}


def order_body(sku: str, quantity: int = 2, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE_ORDER)
    body["lines"] = [{"sku": sku, "quantity": quantity, "unit_price_cents": 1250}]
    return body | changes


def restock(client: TestClient, sku: str, quantity: int = 100, auth: dict[str, str] = ACME) -> None:
    """Add to the stock of the tenant `auth` names (each tenant has a stock of its own)."""
    answer = client.post(
        f"/v1/inventory/{sku}/restock", json={"quantity": quantity}, headers=headers(key(), auth)
    )
    assert answer.status_code == 200, answer.text
