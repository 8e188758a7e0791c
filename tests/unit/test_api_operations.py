"""Probes, metrics and the reaper of the API process."""

from datetime import timedelta

from fastapi.testclient import TestClient
from support.api import API_KEYS, WEBHOOK_SECRET, api_client, headers, key
from support.isolation import wait_until

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.bootstrap import System


def test_the_probes_answer_without_a_key(system: System) -> None:
    api = api_client(system)
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_requests_by_route_and_what_the_idempotency_layer_did(system: System) -> None:
    api = api_client(system)
    same = headers(key())
    for _ in range(3):
        api.post("/v1/inventory/SKU-1/restock", json={"quantity": 1}, headers=same)
    api.get("/no/such/path")

    text = api.get("/metrics").text

    assert 'orders_api_idempotency_total{outcome="executed"} 1.0' in text
    assert 'orders_api_idempotency_total{outcome="replayed"} 2.0' in text
    route = 'method="POST",route="/v1/inventory/{sku}/restock"'
    assert f'orders_api_requests_total{{{route},status="200"}} 3.0' in text
    assert 'orders_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text


class CountingReaps(InMemoryIdempotencyStore):
    def __init__(self) -> None:
        super().__init__()
        self.reaped = 0

    def reap(self) -> int:
        reaped = super().reap()
        self.reaped += reaped
        return reaped


def test_while_the_app_runs_its_reaper_deletes_expired_keys(system: System) -> None:
    store = CountingReaps()
    config = ApiConfig(
        api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET, ttl=timedelta(0), reap_every_s=0.01
    )
    app = create_app(system, store, InMemoryWebhookStore(), config)
    with TestClient(app) as api:  # `with` runs the app's lifespan
        api.post("/v1/inventory/SKU-1/restock", json={"quantity": 1}, headers=headers(key()))
        wait_until(lambda: store.reaped or None, "the reaper to delete the expired key", timeout_s=10)
