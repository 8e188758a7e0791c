"""Which request an answer, a log line and a command belong to (`services/api/request_ids.py`):
`X-Request-ID` and `traceparent` taken when well formed and made up when not, sent back on every
answer, bound to the request's log lines, and the correlation id of the commands it issues, of
their events and of everything the saga does about them."""

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient
from support.api import ACME, WEBHOOK_SECRET, api_client, headers, key, order_body, restock
from support.logs import captured

from domain.orders import OrderStatus
from infrastructure.idempotency_store import InMemoryIdempotencyStore, Response, Scope
from infrastructure.simulators.psp.webhooks import SIGNATURE_HEADER, signature
from services.api.request_ids import trace_id_of
from services.bootstrap import System
from services.saga import Pump

from .saga_world import World, make_world
from .scenario import unique

TRACEPARENT = re.compile(r"00-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})")
SENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SENT_PARENT = "00f067aa0ba902b7"
SENT = f"00-{SENT_TRACE}-{SENT_PARENT}-01"


def traced(answer: httpx.Response) -> tuple[str, str, str]:
    """(request id, trace id, flags) of an answer, after checking its traceparent's form."""
    parent = TRACEPARENT.fullmatch(answer.headers["traceparent"])
    assert parent is not None, answer.headers["traceparent"]
    assert parent["parent"].strip("0") and parent["parent"] != SENT_PARENT  # a span of the server's own
    return answer.headers["x-request-id"], parent["trace"], parent["flags"]


def test_a_well_formed_request_id_is_sent_back_in_a_trace_derived_from_it(system: System) -> None:
    answer = api_client(system).get("/v1/inventory/SKU-1", headers={**ACME, "X-Request-ID": "client-req-1"})

    assert traced(answer) == ("client-req-1", trace_id_of("client-req-1"), "00")
    assert trace_id_of("client-req-1") != trace_id_of("client-req-2")


def test_without_either_header_the_request_id_is_new_and_is_its_trace_id(system: System) -> None:
    api = api_client(system)
    first, second = (traced(api.get("/healthz")) for _ in range(2))

    assert re.fullmatch(r"[0-9a-f]{32}", first[0]) and first[0] != second[0]
    assert first == (first[0], first[0], "00")


@pytest.mark.parametrize(
    "sent",
    [b"", b"x" * 129, b"has space", b"tab\there", b"caf\xe9", b"quote\x7f"],
    ids=["empty", "129 characters", "space", "tab", "not ascii", "DEL"],
)
def test_a_malformed_request_id_is_replaced_by_a_new_one(system: System, sent: bytes) -> None:
    request_id, trace_id, _ = traced(api_client(system).get("/healthz", headers={"X-Request-ID": sent}))

    assert re.fullmatch(r"[0-9a-f]{32}", request_id) and trace_id == request_id


def test_a_request_id_of_128_visible_characters_is_kept(system: System) -> None:
    sent = "~!" * 64
    assert traced(api_client(system).get("/healthz", headers={"X-Request-ID": sent}))[0] == sent


def test_a_traceparent_alone_gives_the_request_its_trace_id_and_the_answer_a_new_span(system: System) -> None:
    answer = api_client(system).get("/healthz", headers={"traceparent": SENT})

    assert traced(answer) == (SENT_TRACE, SENT_TRACE, "01")


def test_with_both_the_request_id_is_the_client_s_and_the_trace_the_caller_s(system: System) -> None:
    answer = api_client(system).get("/healthz", headers={"traceparent": SENT, "X-Request-ID": "req-7"})

    assert traced(answer) == ("req-7", SENT_TRACE, "01")


@pytest.mark.parametrize(
    "sent",
    [
        f"00-{'0' * 32}-{SENT_PARENT}-01",
        f"00-{SENT_TRACE}-{'0' * 16}-01",
        SENT.upper(),
        f"01-{SENT_TRACE}-{SENT_PARENT}-01",
        f"{SENT}-extra",
        f"00-{SENT_TRACE[:-1]}-{SENT_PARENT}-01",
        "garbage",
    ],
    ids=[
        "zero trace id",
        "zero parent id",
        "upper case",
        "version 01",
        "suffix",
        "short trace id",
        "garbage",
    ],
)
def test_a_malformed_traceparent_is_ignored(system: System, sent: str) -> None:
    answer = api_client(system).get("/healthz", headers={"traceparent": sent, "X-Request-ID": "req-8"})

    assert traced(answer) == ("req-8", trace_id_of("req-8"), "00")


class Crashes(InMemoryIdempotencyStore):
    def complete(self, scope: Scope, token: str, response: Response) -> None:
        raise RuntimeError("the store broke")


def answers(system: System) -> dict[str, httpx.Response]:
    """One answer of each kind, each to a request named after it."""
    api, crashing = (
        api_client(system),
        TestClient(api_client(system, Crashes()).app, raise_server_exceptions=False),
    )
    restock(api, sku := unique("SKU"))
    sent: dict[str, Callable[[str], httpx.Response]] = {
        "created": lambda name: api.post(
            "/v1/orders", json=order_body(sku), headers={**headers(key()), "X-Request-ID": name}
        ),
        "unauthenticated": lambda name: api.post("/v1/orders", json={}, headers={"X-Request-ID": name}),
        "invalid": lambda name: api.post(
            "/v1/orders", json={}, headers={**headers(key()), "X-Request-ID": name}
        ),
        "no-route": lambda name: api.get("/v2/nothing", headers={"X-Request-ID": name}),
        "too-large": lambda name: api.post(
            "/v1/orders", content=b"{" * 70_000, headers={**headers(key()), "X-Request-ID": name}
        ),
        "crash": lambda name: crashing.post(
            "/v1/inventory/SKU-1/restock",
            json={"quantity": 1},
            headers={**headers(key()), "X-Request-ID": name},
        ),
    }
    return {name: send(name) for name, send in sent.items()}


def test_every_answer_carries_its_request_s_ids_problems_413_and_500_included(system: System) -> None:
    answered = answers(system)

    assert {name: answer.status_code for name, answer in answered.items()} == {
        "created": 201,
        "unauthenticated": 401,
        "invalid": 422,
        "no-route": 404,
        "too-large": 413,
        "crash": 500,
    }
    assert {name: traced(answer)[:2] for name, answer in answered.items()} == {
        name: (name, trace_id_of(name)) for name in answered
    }


def test_each_request_ends_in_one_access_line_with_its_id_route_template_status_and_duration(
    system: System,
) -> None:
    with captured("api") as lines:
        answered = answers(system)

    logged = [line for line in lines() if line["logger"] == "services.api.request_ids"]
    access = {line["request_id"]: line for line in logged if line["request_id"] in answered}
    assert {name: (line["method"], line["route"], line["status"]) for name, line in access.items()} == {
        "created": ("POST", "/v1/orders", 201),
        "unauthenticated": ("POST", "/v1/orders", 401),
        "invalid": ("POST", "/v1/orders", 422),
        "no-route": ("GET", "unmatched", 404),
        "too-large": ("POST", "unmatched", 413),  # refused before routing
        "crash": ("POST", "/v1/inventory/{sku}/restock", 500),
    }
    assert all(isinstance(line["duration_ms"], float) for line in access.values())
    assert len(logged) == len(answered) + 1  # and the restock before them, under an id of its own


@pytest.fixture
def world() -> Iterator[World]:
    world = make_world()
    yield world
    world.close()


def test_the_commands_of_a_request_and_everything_the_saga_does_about_them_carry_its_id(world: World) -> None:
    api = api_client(world.system)
    restock(api, sku := unique("SKU"))

    placed = api.post(
        "/v1/orders", json=order_body(sku), headers={**headers(key()), "X-Request-ID": "req-flow"}
    )
    world.pump.drain()

    order_id = placed.json()["order_id"]
    assert world.order(order_id).status == OrderStatus.COMPLETED
    about_the_order = [event for event in world.pump.handed if event.data.get("order_id") == order_id]
    assert {event.correlation_id for event in about_the_order} == {"req-flow"}
    assert about_the_order[0].event_type == "OrderPlaced"
    # The saga's commands, in every context, each caused by an event of the order's.
    causes = {event.event_id for event in about_the_order}
    caused = {event.context for event in about_the_order if event.causation_id in causes}
    assert caused == {"orders", "inventory", "payments", "fulfillment"}


def test_a_replay_keeps_the_first_answer_and_its_events_keep_the_first_request_s_id(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    same = headers(key())

    first = api.post("/v1/orders", json=order_body(sku), headers={**same, "X-Request-ID": "req-first"})
    replay = api.post("/v1/orders", json=order_body(sku), headers={**same, "X-Request-ID": "req-replay"})

    assert (replay.status_code, replay.content, replay.headers["location"]) == (
        first.status_code,
        first.content,
        first.headers["location"],
    )
    assert (replay.headers["idempotent-replayed"], traced(replay)[0]) == ("true", "req-replay")
    published = Pump(system, lambda event: None)
    published.drain()
    placed = [event for event in published.handed if event.data.get("order_id") == first.json()["order_id"]]
    assert [(event.event_type, event.correlation_id) for event in placed] == [("OrderPlaced", "req-first")]


def deliver_webhook(api: TestClient, extra: dict[str, Any]) -> httpx.Response:
    data = {"idempotency_key": f"pay-{uuid4().hex}", "reference": "authorize_1", "order_id": "order-1"}
    body = json.dumps({"id": f"evt_{uuid4().hex}", "type": "payment.authorized", "data": data}).encode()
    sent = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(WEBHOOK_SECRET, body, int(time.time())),
    }
    answer: httpx.Response = api.post("/v1/webhooks/psp", content=body, headers=sent | extra)
    return answer


def test_a_webhook_s_log_line_carries_the_correlation_id_the_provider_sent_back(system: System) -> None:
    api = api_client(system)
    with captured("api") as lines:
        deliver_webhook(api, {"X-Correlation-ID": "req-flow", "X-Request-ID": "delivery-1"})
        deliver_webhook(api, {"X-Correlation-ID": "bad\x7fid", "X-Request-ID": "delivery-2"})

    received = lines.saying("psp webhook")
    assert [(line["request_id"], line.get("correlation_id")) for line in received] == [
        ("delivery-1", "req-flow"),
        ("delivery-2", None),
    ]
    assert all(line["message"].endswith(": accepted") for line in received)
