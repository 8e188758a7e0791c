"""The provider's webhooks over HTTP, in memory: the first delivery of an event is recorded and
accepted; every copy, known by its event id alone, is a duplicate that changes nothing; a
delivery without the provider's signature, signed too long ago or ahead of the clock, or whose
body is not a webhook, is refused and recorded nowhere. Bodies are signed by the simulator's own
code, so the two sides must agree."""

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from support.api import PROBLEM, WEBHOOK_SECRET, api_client
from support.webhook_store import Backdate, Stored, WebhookStoreContract

from infrastructure.metrics import Metrics
from infrastructure.settings import Settings
from infrastructure.simulators.psp.webhooks import SIGNATURE_HEADER, signature
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import handlers, webhooks
from services.api.problems import VALIDATION_FAILED, WEBHOOK_UNSIGNED
from services.bootstrap import System

WEBHOOKS = "/v1/webhooks/psp"
JSON = "application/json"
VALID = {"idempotency_key": "k", "reference": "r", "order_id": "o"}


class TestInMemoryWebhookStore(WebhookStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryWebhookStore:
        return InMemoryWebhookStore()

    @pytest.fixture
    def stored(self, store: InMemoryWebhookStore) -> Stored:
        return store.recorded.get

    @pytest.fixture
    def backdate(self, store: InMemoryWebhookStore) -> Backdate:
        def backdate(event_id: str, by: timedelta) -> None:
            store.received_at[event_id] -= by.total_seconds()

        return backdate


def event() -> dict[str, Any]:
    """A webhook as the simulator sends one: with more fields than the API reads."""
    data = {
        "idempotency_key": f"pay-{uuid4().hex}",
        "operation": "authorize",
        "order_id": "order-1",
        "amount_cents": 700,
        "reference": f"authorize_{uuid4().hex[:16]}",
    }
    return {"id": f"evt_{uuid4().hex}", "type": "payment.authorized", "data": data}


def deliver(
    api: TestClient, body: bytes, content_type: str = JSON, signed_at: float | None = None
) -> Response:
    """Post `body` signed as the provider signs it, by default now."""
    at = int(time.time() if signed_at is None else signed_at)
    headers = {"Content-Type": content_type, SIGNATURE_HEADER: signature(WEBHOOK_SECRET, body, at)}
    answer: Response = api.post(WEBHOOKS, content=body, headers=headers)
    return answer


def counted(outcome: str) -> str:
    return f'orders_api_webhooks_total{{outcome="{outcome}"}}'


def test_the_first_delivery_is_recorded_and_accepted_and_its_copy_is_a_duplicate(system: System) -> None:
    store = InMemoryWebhookStore()
    api = api_client(system, webhook_store=store)
    sent = event()
    body = json.dumps(sent).encode()

    first, copy = deliver(api, body), deliver(api, body)

    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    assert (copy.status_code, copy.json()) == (200, {"status": "duplicate"})
    data = sent["data"]
    assert list(store.recorded.values()) == [
        (sent["id"], "payment.authorized", data["idempotency_key"], data["reference"], "order-1", sent)
    ]
    metrics = api.get("/metrics").text
    assert f"{counted('accepted')} 1.0" in metrics
    assert f"{counted('duplicate')} 1.0" in metrics


def test_a_copy_is_known_by_its_event_id_alone(system: System) -> None:
    store = InMemoryWebhookStore()
    api = api_client(system, webhook_store=store)
    sent = event()
    deliver(api, json.dumps(sent).encode())

    reserialized = json.dumps(dict(reversed(sent.items())), indent=2).encode()
    another_event = json.dumps(sent | {"id": f"evt_{uuid4().hex}"}).encode()

    assert deliver(api, reserialized).json() == {"status": "duplicate"}
    assert deliver(api, another_event).json() == {"status": "accepted"}
    assert len(store.recorded) == 2


BODY = json.dumps(event()).encode()
NOW = int(time.time())  # when the module's deliveries are signed: well within the tolerance


def hmac_hex(message: bytes) -> str:
    return hmac.new(WEBHOOK_SECRET.encode(), message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "sent",
    [
        [],
        [(SIGNATURE_HEADER, signature("another secret", BODY, NOW))],
        [(SIGNATURE_HEADER, signature(WEBHOOK_SECRET, BODY + b" ", NOW))],
        [(SIGNATURE_HEADER, signature(WEBHOOK_SECRET, BODY, NOW).upper())],
        [(SIGNATURE_HEADER, "t=,v1=")],
        [(SIGNATURE_HEADER, b"t=1,v1=caf\xe9")],
        [(SIGNATURE_HEADER, f"sha256={hmac_hex(BODY)}")],
        [(SIGNATURE_HEADER, f"t={NOW},v1={hmac_hex(BODY)}")],
        [(SIGNATURE_HEADER, f"t={NOW + 1},v1={hmac_hex(f'{NOW}.'.encode() + BODY)}")],
        [(SIGNATURE_HEADER, f"v1={hmac_hex(f'{NOW}.'.encode() + BODY)}")],
        [(SIGNATURE_HEADER, f"{signature(WEBHOOK_SECRET, BODY, NOW)},v0=0")],
    ],
    ids=[
        "missing",
        "another secret",
        "another body",
        "upper case",
        "empty",
        "not ascii",
        "the body alone, as sha256",
        "the body alone",
        "another time",
        "no time",
        "more than the signature",
    ],
)
def test_a_delivery_without_the_providers_signature_is_a_401_and_recorded_nowhere(
    system: System, sent: list[tuple[str, str | bytes]]
) -> None:
    store = InMemoryWebhookStore()
    api = api_client(system, webhook_store=store)

    answer = api.post(WEBHOOKS, content=BODY, headers=[("Content-Type", JSON), *sent])

    assert (answer.status_code, answer.headers["content-type"]) == (401, PROBLEM)
    assert answer.json()["type"] == WEBHOOK_UNSIGNED.uri
    assert "www-authenticate" in answer.headers
    assert store.recorded == {}


class Clock:
    """Unix time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def webhooks_at(clock: Clock, store: InMemoryWebhookStore) -> TestClient:
    """The webhook route alone, on `clock`, with the problem handlers the API installs."""
    app = FastAPI()
    handlers.install(app)
    app.include_router(webhooks.router(store, WEBHOOK_SECRET, Metrics(), clock=clock))
    return TestClient(app)


@pytest.mark.parametrize(
    ("age_s", "detail"),
    [(301, "made 301 s ago"), (-301, "made 301 s ahead of")],
    ids=["too old", "from the future"],
)
def test_a_signature_made_further_from_now_than_the_tolerance_is_a_401_and_recorded_nowhere(
    age_s: int, detail: str
) -> None:
    clock, store = Clock(), InMemoryWebhookStore()

    answer = deliver(webhooks_at(clock, store), BODY, signed_at=clock.now - age_s)

    assert (answer.status_code, answer.headers["content-type"]) == (401, PROBLEM)
    assert answer.json()["type"] == WEBHOOK_UNSIGNED.uri
    assert detail in answer.json()["detail"]
    assert store.recorded == {}


@pytest.mark.parametrize("age_s", [300, 0, -300], ids=["as old as tolerated", "now", "as far ahead"])
def test_a_signature_made_within_the_tolerance_is_accepted(age_s: int) -> None:
    assert timedelta(seconds=300) == webhooks.TOLERANCE
    clock = Clock()
    store = InMemoryWebhookStore(clock=clock)

    answer = deliver(webhooks_at(clock, store), BODY, signed_at=clock.now - age_s)

    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})


def test_a_replayed_delivery_is_absorbed_once_within_the_tolerance_and_refused_after_it() -> None:
    """The store forgets an event once its retry horizon has passed; long before that, the
    signature check refuses every copy of it, so forgetting it lets no replay through."""
    clock = Clock()
    store = InMemoryWebhookStore(clock=clock)
    api, sent = webhooks_at(clock, store), event()
    body, signed_at = json.dumps(sent).encode(), clock.now

    assert deliver(api, body, signed_at=signed_at).json() == {"status": "accepted"}
    clock.now += webhooks.TOLERANCE.total_seconds()
    assert deliver(api, body, signed_at=signed_at).json() == {"status": "duplicate"}
    assert list(store.recorded) == [sent["id"]]

    clock.now += 1
    assert deliver(api, body, signed_at=signed_at).status_code == 401
    clock.now += store.retry_horizon.total_seconds()
    assert store.purge() == 1
    assert store.recorded == {}
    assert deliver(api, body, signed_at=signed_at).status_code == 401
    assert store.recorded == {}


def test_the_router_refuses_a_store_that_would_forget_an_event_a_replay_can_still_bring() -> None:
    store = InMemoryWebhookStore(retry_horizon=2 * webhooks.TOLERANCE - timedelta(seconds=1))
    with pytest.raises(ValueError, match="retry horizon"):
        webhooks.router(store, WEBHOOK_SECRET, Metrics())


def test_the_signature_is_checked_before_the_body_is_read_as_a_webhook(system: System) -> None:
    answer = api_client(system).post(WEBHOOKS, json={"id": 7}, headers={SIGNATURE_HEADER: "sha256=0"})
    assert (answer.status_code, answer.json()["type"]) == (401, WEBHOOK_UNSIGNED.uri)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", JSON),
        (b'{"id": "evt_1", ', JSON),
        (b"[]", JSON),
        (json.dumps({"id": "evt_1", "type": "t"}).encode(), JSON),
        (json.dumps({"id": "", "type": "t", "data": VALID}).encode(), JSON),
        (json.dumps({"id": 7, "type": "t", "data": VALID}).encode(), JSON),
        (json.dumps({"id": "evt_1", "type": "t", "data": VALID | {"reference": None}}).encode(), JSON),
        (json.dumps({"id": "evt_1", "type": "t", "data": VALID}).encode(), "text/plain"),
        (json.dumps({"id": "evt_\u0000", "type": "t", "data": VALID}).encode(), JSON),
        (json.dumps({"id": "evt_1", "type": "t", "data": VALID, "note": ["a\u0000"]}).encode(), JSON),
    ],
    ids=[
        "empty",
        "not json",
        "not an object",
        "no data",
        "empty id",
        "numeric id",
        "no reference",
        "text",
        "NUL in the id",
        "NUL in an extra field",
    ],
)
def test_a_signed_body_that_is_not_a_webhook_is_a_422_and_recorded_nowhere(
    system: System, body: bytes, content_type: str
) -> None:
    store = InMemoryWebhookStore()
    api = api_client(system, webhook_store=store)

    answer = deliver(api, body, content_type)

    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
    assert answer.json()["type"] == VALIDATION_FAILED.uri
    assert store.recorded == {}


def test_the_webhook_secret_comes_from_the_environment_and_none_is_built_in() -> None:
    given = Settings.from_env({"ORDERS_PSP_WEBHOOK_SECRET": "s3cr3t"})
    assert (given.psp_webhook_secret, Settings.from_env({}).psp_webhook_secret) == ("s3cr3t", "")
