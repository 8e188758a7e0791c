"""Probes, metrics and the reaper of the API process."""

import random
import re
import secrets
import string
from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from support.api import ACME, API_KEYS, PROBLEM, WEBHOOK_SECRET, api_client, headers, key
from support.isolation import wait_until

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.bootstrap import System

KNOWN_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
REQUESTS = re.compile(r'^orders_api_requests_total\{method="([^"]*)",route="([^"]*)",status="\d+"\}', re.M)


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


def test_readiness_answers_only_not_ready_and_logs_the_reason_for_the_operator(
    system: System, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reason = 'connection to server at "10.20.30.40", port 5432 failed: password authentication failed'

    def unreachable() -> int:
        raise psycopg.OperationalError(reason)

    monkeypatch.setattr(system.inventory.recorder, "max_notification_id", unreachable)

    answer = api_client(system).get("/readyz")

    assert (answer.status_code, answer.headers["content-type"]) == (503, PROBLEM)
    leaks = [word for word in ("10.20.30.40", "password", "Inventory", "event store") if word in answer.text]
    assert leaks == []
    assert answer.json()["detail"] == "not ready"
    assert answer.headers["retry-after"].isdigit()
    assert reason in caplog.text


def test_request_series_stay_bounded_whatever_verbs_and_paths_are_sent(system: System) -> None:
    api = api_client(system)
    draw = random.Random(20_260_101)
    templates = {*api.get("/openapi.json").json()["paths"], "/openapi.json"}

    for _ in range(150):
        verb = "".join(draw.choices(string.ascii_uppercase, k=draw.randint(3, 12)))
        path = "/" + "/".join(secrets.token_urlsafe(draw.randint(1, 9)) for _ in range(draw.randint(1, 4)))
        api.request(verb, path, headers=ACME)
        api.request(draw.choice(KNOWN_METHODS), path, headers=ACME)
        api.request(verb, f"/v1/orders/{uuid4()}", headers=ACME)
        api.request(verb.lower(), f"/v1/inventory/{secrets.token_hex(4)}", headers=ACME)

    samples = REQUESTS.findall(api.get("/metrics").text)
    assert {method for method, _ in samples} <= {*KNOWN_METHODS, "other"}
    assert {route for _, route in samples} <= templates | {"unmatched"}
    assert len(samples) < 60  # of 600 requests, with some 300 verbs and 450 paths never seen before
