"""The provider's webhooks over HTTP, in memory: the first delivery of an event is recorded and
accepted; every copy, known by its event id alone, is a duplicate that changes nothing; a
delivery without the provider's signature, or whose body is not a webhook, is refused and
recorded nowhere. Bodies are signed by the simulator's own code, so the two sides must agree."""

import json
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from support.api import PROBLEM, WEBHOOK_SECRET, api_client
from support.webhook_store import Stored, WebhookStoreContract

from infrastructure.settings import DEV_PSP_WEBHOOK_SECRET, Settings
from infrastructure.simulators.psp.webhooks import SIGNATURE_HEADER, signature
from infrastructure.webhook_store import InMemoryWebhookStore
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


def deliver(api: TestClient, body: bytes, content_type: str = JSON) -> Response:
    headers = {"Content-Type": content_type, SIGNATURE_HEADER: signature(WEBHOOK_SECRET, body)}
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


@pytest.mark.parametrize(
    "sent",
    [
        [],
        [(SIGNATURE_HEADER, signature("another secret", BODY))],
        [(SIGNATURE_HEADER, signature(WEBHOOK_SECRET, BODY + b" "))],
        [(SIGNATURE_HEADER, signature(WEBHOOK_SECRET, BODY).upper())],
        [(SIGNATURE_HEADER, "sha256=")],
        [(SIGNATURE_HEADER, b"sha256=caf\xe9")],
    ],
    ids=["missing", "another secret", "another body", "upper case", "empty", "not ascii"],
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


def test_the_webhook_secret_comes_from_the_environment_with_a_development_default() -> None:
    given = Settings.from_env({"ORDERS_PSP_WEBHOOK_SECRET": "s3cr3t"})
    assert (given.psp_webhook_secret, Settings.from_env({}).psp_webhook_secret) == (
        "s3cr3t",
        DEV_PSP_WEBHOOK_SECRET,
    )
