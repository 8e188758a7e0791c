"""The payment provider simulator over HTTP: its idempotency keys, its test tokens and its ledger."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.simulators import psp_simulator

from infrastructure.settings import Settings
from infrastructure.simulators.psp import tokens

pytestmark = pytest.mark.integration


@pytest.fixture
def psp(database_url: str) -> Iterator[httpx.Client]:
    with psp_simulator(database_url) as served, httpx.Client(base_url=served.url, timeout=10) as client:
        yield client


def authorize(
    psp: httpx.Client,
    token: str,
    key: str | None = None,
    order_id: str = "",
    cents: int = 1500,
    **options: Any,
) -> httpx.Response:
    body = {
        "order_id": order_id or f"order-{uuid.uuid4()}",
        "amount_cents": cents,
        "currency": "EUR",
        "token": token,
    }
    return psp.post(
        "/v1/authorizations", json=body, headers={"Idempotency-Key": key or f"pay-{uuid.uuid4()}"}, **options
    )


def charges(psp: httpx.Client, order_id: str, status: str = "approved") -> list[dict[str, Any]]:
    listed = psp.get("/charges", params={"order_id": order_id}).raise_for_status().json()["charges"]
    return [charge for charge in listed if charge["status"] == status]


def test_tok_ok_is_approved_and_a_repeat_is_answered_from_the_ledger(psp: httpx.Client) -> None:
    first = authorize(psp, tokens.OK, key="pay-1:authorize", order_id="order-1")
    again = authorize(psp, tokens.OK, key="pay-1:authorize", order_id="order-1")

    assert (first.status_code, first.json()["status"]) == (200, "approved")
    assert again.json() == first.json()
    assert (first.headers.get("Idempotent-Replayed"), again.headers.get("Idempotent-Replayed")) == (
        None,
        "true",
    )
    assert [c["reference"] for c in charges(psp, "order-1")] == [first.json()["reference"]]


@pytest.mark.parametrize(
    ("token", "reason"),
    [("tok_decline", "card declined"), ("tok_decline_insufficient_funds", "insufficient funds")],
)
def test_decline_tokens_are_declined_with_their_reason_and_charge_nothing(
    psp: httpx.Client, token: str, reason: str
) -> None:
    answer = authorize(psp, token, order_id="order-2").json()

    assert (answer["status"], answer["reason"]) == ("declined", reason)
    assert charges(psp, "order-2") == []
    assert len(charges(psp, "order-2", status="declined")) == 1


def test_tok_error_before_charge_fails_once_per_key_without_recording_then_succeeds(
    psp: httpx.Client,
) -> None:
    first = authorize(psp, tokens.ERROR_BEFORE_CHARGE, key="pay-3:authorize", order_id="order-3")
    assert first.status_code == 503
    assert psp.get("/charges", params={"order_id": "order-3"}).json()["charges"] == []

    second = authorize(psp, tokens.ERROR_BEFORE_CHARGE, key="pay-3:authorize", order_id="order-3")
    assert (second.status_code, second.json()["status"]) == (200, "approved")
    assert len(charges(psp, "order-3")) == 1


def test_tok_timeout_after_charge_charges_then_loses_the_first_answer(psp: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        authorize(psp, tokens.TIMEOUT_AFTER_CHARGE, key="pay-4:authorize", order_id="order-4", timeout=0.5)
    [charged] = charges(psp, "order-4")  # charged, though the client heard nothing

    retry = authorize(psp, tokens.TIMEOUT_AFTER_CHARGE, key="pay-4:authorize", order_id="order-4")
    assert (retry.json()["reference"], retry.headers["Idempotent-Replayed"]) == (charged["reference"], "true")
    assert charges(psp, "order-4") == [charged]


def test_tok_slow_answers_later_than_a_short_timeout_but_within_the_default(psp: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        authorize(psp, tokens.SLOW, timeout=tokens.SLOW_ANSWER_S / 4)

    assert authorize(psp, tokens.SLOW, timeout=Settings().gateway_timeout_s).json()["status"] == "approved"


def test_the_same_key_with_a_different_body_is_refused_with_422(psp: httpx.Client) -> None:
    authorize(psp, tokens.OK, key="pay-5:authorize", order_id="order-5", cents=1500)
    reused = authorize(psp, tokens.OK, key="pay-5:authorize", order_id="order-5", cents=9900)

    assert reused.status_code == 422
    assert [c["amount_cents"] for c in charges(psp, "order-5")] == [1500]


def test_a_request_without_a_usable_key_or_body_is_refused_with_400(psp: httpx.Client) -> None:
    body = {"order_id": "order-6", "amount_cents": 100, "currency": "EUR", "token": tokens.OK}
    assert psp.post("/v1/authorizations", json=body).status_code == 400
    assert (
        psp.post("/v1/authorizations", json=body, headers={"Idempotency-Key": "x" * 256}).status_code == 400
    )
    bad = {**body, "amount_cents": -1}
    unreadable = psp.post("/v1/authorizations", json=bad, headers={"Idempotency-Key": "k-6"})
    assert (unreadable.status_code, unreadable.headers["content-type"]) == (400, "application/problem+json")
    assert unreadable.json()["detail"].startswith("body.amount_cents: Input should be greater than")
    assert psp.get("/charges", params={"order_id": "order-6"}).json()["charges"] == []


def test_capture_void_and_refund_are_filed_under_the_authorization_s_order(psp: httpx.Client) -> None:
    captured = authorize(psp, tokens.OK, order_id="order-7", cents=2000).json()["reference"]
    voided = authorize(psp, tokens.OK, order_id="order-7", cents=300).json()["reference"]
    amount = {"amount_cents": 2000, "currency": "EUR"}
    for path, body in [
        ("/v1/captures", {"authorization": captured, **amount}),
        ("/v1/refunds", {"authorization": captured, **amount}),
        ("/v1/voids", {"authorization": voided}),
    ]:
        answer = psp.post(path, json=body, headers={"Idempotency-Key": f"k{path}"})
        assert answer.json()["status"] == "approved"

    ledger = [(c["operation"], c["amount_cents"], c["currency"]) for c in charges(psp, "order-7")]
    assert ledger == [
        ("authorize", 2000, "EUR"),
        ("authorize", 300, "EUR"),
        ("capture", 2000, "EUR"),
        ("refund", 2000, "EUR"),
        ("void", 0, "EUR"),
    ]
    assert [c["authorization_ref"] for c in charges(psp, "order-7")[2:]] == [captured, captured, voided]


def post(psp: httpx.Client, path: str, key: str, **body: Any) -> httpx.Response:
    return psp.post(path, json=body, headers={"Idempotency-Key": key})


@pytest.mark.parametrize(
    ("first", "then", "status", "problem"),
    [
        ("/v1/voids", "/v1/captures", 409, "psp/authorization-voided"),
        ("/v1/captures", "/v1/voids", 409, "psp/authorization-captured"),
        ("/v1/captures", "/v1/captures", 409, "psp/authorization-captured"),
        ("/v1/voids", "/v1/voids", 409, "psp/authorization-voided"),
        ("/v1/voids", "/v1/refunds", 409, "psp/not-captured"),
    ],
)
def test_a_follow_up_the_authorization_s_state_forbids_is_a_409_problem_and_recorded_as_refused(
    psp: httpx.Client, first: str, then: str, status: int, problem: str
) -> None:
    ref = authorize(psp, tokens.OK, order_id="order-9", cents=800).json()["reference"]
    amount = {"amount_cents": 800, "currency": "EUR"}
    assert post(psp, first, "k-first", authorization=ref, **amount).status_code == 200
    refused = post(psp, then, "k-then", authorization=ref, **amount)
    again = post(psp, then, "k-then", authorization=ref, **amount)

    assert (refused.status_code, refused.headers["content-type"]) == (status, "application/problem+json")
    body = refused.json()
    assert body["type"] == f"tag:idempotent-orders,2026:simulator/{problem}"
    assert body["title"] and body["detail"] and body["status"] == status
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (status, body, "true")
    assert [c["idempotency_key"] for c in charges(psp, "order-9", status="refused")] == ["k-then"]
    assert len(charges(psp, "order-9")) == 2  # the authorization and the first follow-up


def test_an_amount_above_what_is_allowed_is_a_422_problem(psp: httpx.Client) -> None:
    ref = authorize(psp, tokens.OK, order_id="order-10", cents=800).json()["reference"]
    above = post(psp, "/v1/captures", "k-1", authorization=ref, amount_cents=801, currency="EUR")
    post(psp, "/v1/captures", "k-2", authorization=ref, amount_cents=800, currency="EUR")
    refund = post(psp, "/v1/refunds", "k-3", authorization=ref, amount_cents=801, currency="EUR")

    assert (above.status_code, above.json()["type"].rpartition("/")[2]) == (422, "amount-above-authorized")
    assert (refund.status_code, refund.json()["type"].rpartition("/")[2]) == (422, "amount-above-captured")
    assert above.json()["reference"] != refund.json()["reference"]  # each refusal is its own operation


def test_an_unknown_authorization_is_a_404_problem(psp: httpx.Client) -> None:
    body = {"authorization": "authorize_nonexistent", "amount_cents": 100, "currency": "EUR"}
    assert psp.post("/v1/captures", json=body, headers={"Idempotency-Key": "k-8"}).status_code == 404
    problem = psp.post("/v1/voids", json={"authorization": "nope"}, headers={"Idempotency-Key": "k-9"}).json()
    assert problem["type"].endswith("/psp/unknown-authorization") and problem["status"] == 404
    assert psp.get("/charges", params={"order_id": ""}).status_code == 400  # unreadable: a problem too
    assert psp.get("/charges", params={"order_id": ""}).json()["type"].endswith("/bad-request")
