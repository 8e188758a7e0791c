"""Racing requests against the simulators over HTTP, on PostgreSQL: follow-ups of one
authorization, and moves of one parcel, under different keys and released at the same
moment. The row lock decides them one at a time, so exactly one kind wins, and the tables
(read with SQL) hold exactly what the answers said."""

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from support.simulators import schema, serving

from infrastructure.settings import Settings
from infrastructure.simulators import carrier, psp

pytestmark = pytest.mark.integration

ROUNDS = 8  # authorizations (or parcels), each raced over once
EACH = 3  # requests of each kind per round


@contextmanager
def simulator(database_url: str, kind: str) -> Iterator[tuple[httpx.Client, str]]:
    """The simulator over HTTP, and the schema its tables are in."""
    create = psp.create_app if kind == "psp" else carrier.create_app
    with (
        schema(database_url, kind) as name,
        serving(create(Settings(database_url=database_url), name)) as served,
        httpx.Client(
            base_url=served.url, timeout=30, limits=httpx.Limits(max_connections=2 * EACH)
        ) as client,
    ):
        yield client, name


def race(requests: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Send every request at once (released together by a barrier); the answers in order."""
    start = threading.Barrier(len(requests))

    def send(request: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return request()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def post(
    client: httpx.Client, path: str, key: str, body: dict[str, Any] | None = None
) -> Callable[[], httpx.Response]:
    return lambda: client.post(path, json=body or {}, headers={"Idempotency-Key": key})


def rows(database_url: str, query: str, *params: Any, schema_name: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql.SQL(query).format(sql.Identifier(schema_name)), params).fetchall()


def test_captures_and_voids_of_one_authorization_racing_approve_exactly_one(database_url: str) -> None:
    with simulator(database_url, "psp") as (client, name):
        for round_ in range(ROUNDS):
            body = {"order_id": f"order-{round_}", "amount_cents": 500, "currency": "EUR", "token": "tok_ok"}
            ref = post(client, "/v1/authorizations", f"auth-{round_}", body)().json()["reference"]
            amount = {"authorization": ref, "amount_cents": 500, "currency": "EUR"}
            captures = [post(client, "/v1/captures", f"capture-{round_}-{i}", amount) for i in range(EACH)]
            voids = [
                post(client, "/v1/voids", f"void-{round_}-{i}", {"authorization": ref}) for i in range(EACH)
            ]
            answers = race([val for pair in zip(captures, voids, strict=True) for val in pair])

            assert sorted(a.status_code for a in answers) == [200] + [409] * (2 * EACH - 1)
            [winner] = [a.json()["operation"] for a in answers if a.status_code == 200]
            loser_type = "authorization-captured" if winner == "capture" else "authorization-voided"
            assert {a.json()["type"].rpartition("/")[2] for a in answers if a.status_code == 409} == {
                loser_type
            }
            ledger = rows(
                database_url,
                "SELECT operation, status FROM {}.operations WHERE authorization_ref = %s",
                ref,
                schema_name=name,
            )
            assert sorted(status for _, status in ledger) == ["approved"] + ["refused"] * (2 * EACH - 1)
            assert [op for op, status in ledger if status == "approved"] == [winner]


def test_cancels_and_hand_overs_of_one_parcel_racing_move_it_once(database_url: str) -> None:
    with simulator(database_url, "carrier") as (client, name):
        for round_ in range(ROUNDS):
            booking = post(client, "/v1/shipments", f"ship-{round_}", {"destination": f"{round_} Road"})()
            parcel = booking.json()["tracking_id"]
            cancels = [post(client, f"/v1/shipments/{parcel}/cancel", f"c-{round_}-{i}") for i in range(EACH)]
            hand_overs = [
                post(client, f"/v1/shipments/{parcel}/handover", f"h-{round_}-{i}") for i in range(EACH)
            ]
            answers = race([val for pair in zip(cancels, hand_overs, strict=True) for val in pair])

            winners = {a.json()["status"] for a in answers if a.status_code == 200}
            assert len(winners) == 1, [a.json() for a in answers]
            assert sorted(a.status_code for a in answers) == [200] * EACH + [409] * EACH
            [state] = rows(
                database_url,
                "SELECT state FROM {}.shipments WHERE tracking_id = %s",
                parcel,
                schema_name=name,
            )
            assert state == (winners.pop(),)
            moved = rows(
                database_url,
                "SELECT DISTINCT status FROM {}.parcel_operations WHERE tracking_id = %s",
                parcel,
                schema_name=name,
            )
            assert sorted(moved) == sorted([state, ("refused",)])


def test_one_key_raced_is_answered_once(database_url: str) -> None:
    """Six copies of one capture at once: one approval, five replays of it."""
    with simulator(database_url, "psp") as (client, name):
        body = {
            "order_id": f"order-{uuid.uuid4()}",
            "amount_cents": 500,
            "currency": "EUR",
            "token": "tok_ok",
        }
        ref = post(client, "/v1/authorizations", "auth-1", body)().json()["reference"]
        amount = {"authorization": ref, "amount_cents": 500, "currency": "EUR"}
        answers = race([post(client, "/v1/captures", "capture-1", amount)] * (2 * EACH))

        assert {a.json()["reference"] for a in answers} == {answers[0].json()["reference"]}
        assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == [""] + ["true"] * (
            2 * EACH - 1
        )
        ledger = rows(
            database_url,
            "SELECT status FROM {}.operations WHERE authorization_ref = %s",
            ref,
            schema_name=name,
        )
        assert ledger == [("approved",)]
