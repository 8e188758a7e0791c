"""The Idempotency-Key layer over HTTP, in memory: a retry is answered with the first response
and no second effect, also after a crash between the command's commit and keeping the response;
a reused key with another body, a key in flight and a missing or malformed key are refused;
answers the client may correct are not kept."""

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from support.api import ACME, api_client, headers, key, order_body, restock
from support.orders import OrderFlows

from domain.orders import AdvanceOrder, Order, OrderStatus
from infrastructure.idempotency_store import InMemoryIdempotencyStore, Response, Scope
from services.api.problems import (
    KEY_IN_USE,
    KEY_MALFORMED,
    KEY_MISSING,
    KEY_REUSED,
    VALIDATION_FAILED,
    ProblemType,
)
from services.api.store import RecordedResponse
from services.bootstrap import System

from .scenario import unique


class ProcessDied(Exception):
    """Stands for the API process dying at this point."""


class DiesBeforeKeepingTheResponse(InMemoryIdempotencyStore):
    """The first response is lost where a crash would lose it: after the command committed,
    before the response was kept. Its claim stays behind, as a dead process leaves it."""

    def __init__(self) -> None:
        super().__init__()
        self.lost: list[RecordedResponse] = []

    def complete(self, scope: Scope, token: str, response: Response) -> None:
        if not self.lost:
            self.lost.append(RecordedResponse(*response))
            raise ProcessDied
        super().complete(scope, token, response)


def advance(system: System, order_id: str, step: OrderStatus) -> None:
    system.orders.execute(AdvanceOrder(command_id=unique("advance"), order_id=UUID(order_id), step=step))


def times_placed(system: System, order_id: str) -> int:
    events = system.orders.recorder.select_events(UUID(order_id))
    return sum(event.topic == Order.Placed.TOPIC for event in events)


def test_a_retry_gets_the_first_response_again_marked_replayed_and_places_nothing_new(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    same = headers(key())

    first = api.post("/v1/orders", json=order_body(sku), headers=same)
    retry = api.post("/v1/orders", json=order_body(sku), headers=same)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.content == first.content
    assert retry.headers["location"] == first.headers["location"] == f"/v1/orders/{first.json()['order_id']}"
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["idempotent-replayed"] == "true"
    assert times_placed(system, first.json()["order_id"]) == 1


def test_the_same_key_with_another_body_is_refused_with_its_own_problem_type(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    same = headers(key())
    api.post("/v1/orders", json=order_body(sku, quantity=1), headers=same)

    other = api.post("/v1/orders", json=order_body(sku, quantity=5), headers=same)

    assert (other.status_code, other.json()["type"]) == (422, KEY_REUSED.uri)
    assert KEY_REUSED.uri != VALIDATION_FAILED.uri


def test_bodies_that_differ_only_in_key_order_and_whitespace_are_the_same_request(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    same = headers(key())
    body = order_body(sku)
    api.post("/v1/orders", json=body, headers=same)

    reordered = json.dumps(dict(reversed(body.items())), indent=4)
    spaced = api.post("/v1/orders", content=reordered, headers={**same, "Content-Type": "application/json"})

    assert (spaced.status_code, spaced.headers["idempotent-replayed"]) == (201, "true")


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (None, KEY_MISSING),
        ("", KEY_MALFORMED),
        ("x" * 256, KEY_MALFORMED),
        ("tab\there", KEY_MALFORMED),
        (b"caf\xe9", KEY_MALFORMED),  # not ASCII
    ],
    ids=["missing", "empty", "256 characters", "not printable", "not ascii"],
)
def test_a_missing_or_malformed_key_is_a_400(
    system: System, given: str | bytes | None, problem: ProblemType
) -> None:
    sent: list[tuple[str, str | bytes]] = [(name, value) for name, value in ACME.items()]
    if given is not None:
        sent.append(("Idempotency-Key", given))
    answer = api_client(system).post("/v1/orders", json=order_body("SKU-1"), headers=sent)
    assert (answer.status_code, answer.json()["type"]) == (400, problem.uri)


def test_a_key_of_255_printable_characters_is_accepted(system: System) -> None:
    api = api_client(system)
    answer = api.post("/v1/inventory/SKU-1/restock", json={"quantity": 1}, headers=headers("~ !" * 85))
    assert answer.status_code == 200


def test_a_crash_after_the_commit_is_answered_by_the_retry_with_the_same_bytes_and_no_second_effect(
    system: System,
) -> None:
    store = DiesBeforeKeepingTheResponse()
    api = api_client(system, store, lease=timedelta(0))  # the dead request's claim lapses at once
    OrderFlows(system).restock(sku := unique("SKU"), 10, tenant_id="acme")
    same = headers(key())
    with pytest.raises(ProcessDied):
        api.post("/v1/orders", json=order_body(sku), headers=same)
    lost = json.loads(store.lost[0].body)
    advance(system, lost["order_id"], OrderStatus.RESERVED)  # the saga moves on meanwhile

    retry = api.post("/v1/orders", json=order_body(sku), headers=same)

    assert retry.status_code == 201
    assert retry.content == store.lost[0].body  # what the first attempt would have sent
    assert lost["status"] == "placed"
    assert retry.headers["idempotent-replayed"] == "true"  # answered by the command log
    assert times_placed(system, retry.json()["order_id"]) == 1
    again = api.post("/v1/orders", json=order_body(sku), headers=same)
    assert again.content == retry.content  # now kept by the store


def test_a_retry_while_the_first_request_holds_its_claim_is_a_409_with_retry_after(system: System) -> None:
    api = api_client(system, DiesBeforeKeepingTheResponse(), lease=timedelta(minutes=1))
    OrderFlows(system).restock(sku := unique("SKU"), 10, tenant_id="acme")
    same = headers(key())
    with pytest.raises(ProcessDied):
        api.post("/v1/orders", json=order_body(sku), headers=same)

    busy = api.post("/v1/orders", json=order_body(sku), headers=same)

    assert (busy.status_code, busy.json()["type"], busy.headers["retry-after"]) == (409, KEY_IN_USE.uri, "1")


def test_after_its_record_expired_and_was_reaped_a_key_is_still_answered_by_the_command_log(
    system: System,
) -> None:
    store = InMemoryIdempotencyStore()
    api = api_client(system, store, ttl=timedelta(0))
    restock(api, sku := unique("SKU"))
    same = headers(key())
    first = api.post("/v1/orders", json=order_body(sku), headers=same)
    assert store.reap() >= 1

    retry = api.post("/v1/orders", json=order_body(sku), headers=same)
    reused = api.post("/v1/orders", json=order_body(sku, quantity=9), headers=same)

    assert (retry.status_code, retry.content) == (201, first.content)
    assert times_placed(system, first.json()["order_id"]) == 1
    assert (reused.status_code, reused.json()["type"]) == (422, KEY_REUSED.uri)


def test_a_request_the_client_may_correct_does_not_use_up_its_key(system: System) -> None:
    api = api_client(system)
    sku, same = unique("SKU"), headers(key())

    invalid = api.post("/v1/orders", json=order_body(sku, quantity=0), headers=same)
    unstocked = api.post("/v1/orders", json=order_body(sku), headers=same)
    restock(api, sku)
    placed = api.post("/v1/orders", json=order_body(sku), headers=same)

    assert [invalid.status_code, unstocked.status_code, placed.status_code] == [422, 422, 201]
    assert "idempotent-replayed" not in placed.headers


def test_a_refusal_by_the_current_state_is_final_and_kept_for_the_retries(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    order_id = api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"]
    for step in (OrderStatus.RESERVED, OrderStatus.PAID, OrderStatus.FULFILLING, OrderStatus.SHIPPED):
        advance(system, order_id, step)
    same = headers(key())

    refused = api.post(f"/v1/orders/{order_id}/cancel", headers=same)
    retry = api.post(f"/v1/orders/{order_id}/cancel", headers=same)

    assert (refused.status_code, refused.json()["code"]) == (409, "order_shipped")
    assert (retry.content, retry.headers["idempotent-replayed"]) == (refused.content, "true")


def test_the_same_key_on_another_route_is_another_key(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    shared = key()

    restocked = api.post(f"/v1/inventory/{sku}/restock", json={"quantity": 1}, headers=headers(shared))
    placed = api.post("/v1/orders", json=order_body(sku), headers=headers(shared))

    assert (restocked.status_code, placed.status_code) == (200, 201)


def spellings(order_id: str) -> list[str]:
    """The ways a client may write one order id that the API reads as that order."""
    return [order_id, order_id.upper(), order_id.replace("-", ""), f"{{{order_id}}}"]


def test_a_retry_that_spells_the_path_otherwise_is_the_same_request(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    order_id = api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json()["order_id"]
    same = headers(key())

    first, *retries = (api.post(f"/v1/orders/{path}/cancel", headers=same) for path in spellings(order_id))
    trailing = api.post("/v1/orders/", json=order_body(sku), headers=(placing := headers(key())))
    placed = api.post("/v1/orders", json=order_body(sku), headers=placing)

    assert first.status_code == 200
    assert [(r.content, r.headers.get("idempotent-replayed")) for r in retries] == [
        (first.content, "true")
    ] * 3
    assert (placed.content, placed.headers.get("idempotent-replayed")) == (trailing.content, "true")


def test_the_same_key_for_another_order_on_one_route_is_refused_as_another_request(system: System) -> None:
    api = api_client(system)
    restock(api, sku := unique("SKU"))
    one, other = (api.post("/v1/orders", json=order_body(sku), headers=headers(key())).json() for _ in "12")
    same = headers(key())

    cancelled = api.post(f"/v1/orders/{one['order_id']}/cancel", headers=same)
    reused = api.post(f"/v1/orders/{other['order_id']}/cancel", headers=same)

    assert cancelled.status_code == 200
    assert (reused.status_code, reused.json()["type"]) == (422, KEY_REUSED.uri)
    assert api.get(f"/v1/orders/{other['order_id']}", headers=ACME).json()["status"] == "placed"


class DiesAfterClaiming(InMemoryIdempotencyStore):
    """The first request's process dies as soon as its claim is taken, before its command ran:
    the claim stays behind, without a response, until its lease lapses."""

    def __init__(self) -> None:
        super().__init__()
        self.died = False

    def claim(
        self,
        scope: Scope,
        fingerprint: str,
        token: str,
        lease: timedelta,
        ttl: timedelta,
        request_id: str = "",
    ) -> Any:
        held = super().claim(scope, fingerprint, token, lease, ttl, request_id)
        if not self.died:
            self.died = True
            raise ProcessDied
        return held


def test_a_claim_whose_lease_lapsed_is_taken_over_only_by_a_retry_of_the_same_request(system: System) -> None:
    restock(api_client(system), sku := unique("SKU"))
    api = api_client(system, DiesAfterClaiming(), lease=timedelta(0))  # the dead claim lapses at once
    same = headers(key())
    with pytest.raises(ProcessDied):
        api.post("/v1/orders", json=order_body(sku, quantity=1), headers=same)

    other = api.post("/v1/orders", json=order_body(sku, quantity=5), headers=same)
    retry = api.post("/v1/orders", json=order_body(sku, quantity=1), headers=same)

    assert (other.status_code, other.json()["type"]) == (422, KEY_REUSED.uri)
    assert (retry.status_code, retry.json()["total_cents"]) == (201, 1250)
