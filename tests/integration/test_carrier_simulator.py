"""The carrier simulator over HTTP: one parcel per idempotency key, and its failures on demand."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.simulators import carrier_simulator

pytestmark = pytest.mark.integration


@pytest.fixture
def carrier(database_url: str) -> Iterator[httpx.Client]:
    with carrier_simulator(database_url) as served, httpx.Client(base_url=served.url, timeout=10) as client:
        yield client


def ship(carrier: httpx.Client, key: str, destination: str, **options: Any) -> httpx.Response:
    return carrier.post(
        "/v1/shipments", json={"destination": destination}, headers={"Idempotency-Key": key}, **options
    )


def bookings(carrier: httpx.Client) -> list[dict[str, Any]]:
    return list(carrier.get("/shipments").raise_for_status().json()["shipments"])


def test_the_same_key_gets_the_same_tracking_id_and_books_one_parcel(carrier: httpx.Client) -> None:
    first = ship(carrier, "shp-1:ship", "1 Demo Street, Utrecht")
    again = ship(carrier, "shp-1:ship", "1 Demo Street, Utrecht")

    assert (first.json()["status"], again.headers["Idempotent-Replayed"]) == ("accepted", "true")
    assert again.json()["tracking_id"] == first.json()["tracking_id"] != ""
    assert [b["tracking_id"] for b in bookings(carrier)] == [first.json()["tracking_id"]]


def test_a_destination_containing_fail_is_refused_and_stays_refused(carrier: httpx.Client) -> None:
    first = ship(carrier, "shp-2:ship", "FAIL Test, Nowhere").json()
    again = ship(carrier, "shp-2:ship", "FAIL Test, Nowhere").json()

    assert (first["status"], first["tracking_id"]) == ("refused", "")
    assert again == first
    assert [b["status"] for b in bookings(carrier)] == ["refused"]


def test_timeout_after_booking_books_and_then_loses_the_first_answer(carrier: httpx.Client) -> None:
    lose = {"X-Sim-Behaviour": "timeout_after_booking", "Idempotency-Key": "shp-3:ship"}
    with pytest.raises(httpx.ReadTimeout):
        carrier.post("/v1/shipments", json={"destination": "3 Slow Lane"}, headers=lose, timeout=0.5)
    [booked] = bookings(carrier)  # booked, though the client heard nothing

    retry = ship(carrier, "shp-3:ship", "3 Slow Lane").json()
    assert (retry["status"], retry["tracking_id"]) == ("accepted", booked["tracking_id"])
    assert bookings(carrier) == [booked]


def test_the_same_key_for_another_destination_is_refused_with_422(carrier: httpx.Client) -> None:
    ship(carrier, "shp-4:ship", "4 First Street")
    assert ship(carrier, "shp-4:ship", "4 Other Street").status_code == 422
    assert [b["destination"] for b in bookings(carrier)] == ["4 First Street"]


def test_a_request_without_a_key_or_with_an_unknown_behaviour_is_refused_with_400(
    carrier: httpx.Client,
) -> None:
    assert carrier.post("/v1/shipments", json={"destination": "5 Road"}).status_code == 400
    unknown = {"X-Sim-Behaviour": "explode", "Idempotency-Key": "shp-5:ship"}
    assert carrier.post("/v1/shipments", json={"destination": "5 Road"}, headers=unknown).status_code == 400
    assert bookings(carrier) == []
