"""The simulators take a caller's `X-Request-ID`, `X-Correlation-ID` and `X-Causation-ID`: on
their log lines and back in their answers. The provider keeps the correlation id with the
operation and sends it back with the operation's webhooks, whose log lines at the API carry
it. Both simulators and the API are served for real, in this process, so one log holds all."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support.api import API_KEYS
from support.isolation import wait_until
from support.logs import Lines, captured
from support.simulators import Served, carrier_simulator, psp_simulator, serving

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.settings import Settings
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.bootstrap import build

pytestmark = pytest.mark.integration

SECRET = "it-webhook-secret"
IDS = {"X-Request-ID": "req-flow", "X-Correlation-ID": "req-flow", "X-Causation-ID": "authorize-cmd"}
SIMULATOR = "infrastructure.simulators.caller_ids"


def api_app() -> FastAPI:
    config = ApiConfig(api_keys=API_KEYS, psp_webhook_secret=SECRET)
    return create_app(
        build(Settings(database_url=None)), InMemoryIdempotencyStore(), InMemoryWebhookStore(), config
    )


@pytest.fixture
def provider(database_url: str) -> Iterator[tuple[Served, Lines]]:
    """The provider, sending its webhooks to the API; both logging into the lines yielded."""
    with captured() as lines, serving(api_app()) as api:
        webhooks = f"{api.url}/v1/webhooks/psp"
        with psp_simulator(database_url, psp_webhook_url=webhooks, psp_webhook_secret=SECRET) as psp:
            yield psp, lines


def authorize(psp: Served, key: str, ids: dict[str, str]) -> httpx.Response:
    body = {"order_id": f"order-{key}", "amount_cents": 700, "currency": "EUR", "token": "tok_ok"}
    return httpx.post(f"{psp.url}/v1/authorizations", json=body, headers={"Idempotency-Key": key, **ids})


def webhooks_logged(lines: Lines, copies: int) -> list[dict[str, Any]] | None:
    received = lines.saying("psp webhook")
    return received if len(received) >= copies else None


def test_the_provider_keeps_the_correlation_id_and_its_webhooks_bring_it_to_the_api_s_log(
    provider: tuple[Served, Lines],
) -> None:
    psp, lines = provider
    key = f"pay-{uuid.uuid4()}"
    first = authorize(psp, key, IDS)
    retry = authorize(psp, key, {"X-Correlation-ID": "another-flow"})
    received = wait_until(lambda: webhooks_logged(lines, 2), "both copies of the webhook at the API")

    assert {name: first.headers[name] for name in IDS} == IDS
    assert retry.headers["idempotent-replayed"] == "true"
    assert first.json()["correlation_id"] == retry.json()["correlation_id"] == "req-flow"  # the first's
    assert [line.get("correlation_id") for line in received] == ["req-flow", "req-flow"]
    assert sorted(line["message"].rsplit(": ", 1)[1] for line in received) == ["accepted", "duplicate"]


def test_the_provider_s_access_line_carries_the_caller_s_ids(provider: tuple[Served, Lines]) -> None:
    psp, lines = provider
    authorize(psp, f"pay-{uuid.uuid4()}", IDS)

    def access_logged() -> list[dict[str, Any]] | None:  # logged just after the answer was sent
        return [line for line in lines() if line["logger"] == SIMULATOR and line["status"] == 200] or None

    (line,) = wait_until(access_logged, "the access line")
    assert (line["method"], line["route"]) == ("POST", "/v1/authorizations")
    assert (line["request_id"], line["correlation_id"], line["causation_id"]) == (
        "req-flow",
        "req-flow",
        "authorize-cmd",
    )


def test_the_carrier_takes_well_formed_ids_and_ignores_the_others(database_url: str) -> None:
    sent: dict[str, Any] = {**IDS, "X-Causation-ID": "c" * 256}
    with captured() as lines, carrier_simulator(database_url) as carrier:
        booked = httpx.post(
            f"{carrier.url}/v1/shipments",
            json={"destination": "1 Main Street, Utrecht"},
            headers={"Idempotency-Key": f"ship-{uuid.uuid4()}", **sent},
        )

    assert booked.status_code == 200
    assert (booked.headers["x-request-id"], booked.headers["x-correlation-id"]) == ("req-flow", "req-flow")
    assert "x-causation-id" not in booked.headers
    (line,) = [line for line in lines() if line["logger"] == SIMULATOR]
    assert (line["route"], line["request_id"], line["correlation_id"]) == (
        "/v1/shipments",
        "req-flow",
        "req-flow",
    )
    assert "causation_id" not in line
