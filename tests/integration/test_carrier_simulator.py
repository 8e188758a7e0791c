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


def move(
    carrier: httpx.Client, tracking_id: str, action: str, key: str, behaviour: str = "", **options: Any
) -> httpx.Response:
    headers = {"Idempotency-Key": key, **({"X-Sim-Behaviour": behaviour} if behaviour else {})}
    return carrier.post(f"/v1/shipments/{tracking_id}/{action}", headers=headers, **options)


def states(carrier: httpx.Client) -> dict[str, str]:
    return {b["tracking_id"]: b["state"] for b in bookings(carrier)}


def test_a_booked_parcel_is_cancelled_once_and_then_cannot_be_handed_over(carrier: httpx.Client) -> None:
    parcel = ship(carrier, "shp-6:ship", "6 Road").json()["tracking_id"]
    cancelled = move(carrier, parcel, "cancel", "shp-6:cancel")
    replayed = move(carrier, parcel, "cancel", "shp-6:cancel")
    again = move(carrier, parcel, "cancel", "shp-6:cancel-again")
    refused = move(carrier, parcel, "handover", "shp-6:handover")

    assert (cancelled.status_code, cancelled.json()["status"], cancelled.json()["tracking_id"]) == (
        200,
        "cancelled",
        parcel,
    )
    assert (replayed.json(), replayed.headers["Idempotent-Replayed"]) == (cancelled.json(), "true")
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    assert (refused.status_code, refused.headers["content-type"]) == (409, "application/problem+json")
    assert refused.json()["type"] == "tag:idempotent-orders,2026:simulator/carrier/parcel-cancelled"
    assert (refused.json()["tracking_id"], refused.json()["detail"]) == (
        parcel,
        "cannot hand over: the parcel is cancelled",
    )
    assert move(carrier, parcel, "handover", "shp-6:handover").json() == refused.json()
    assert states(carrier) == {parcel: "cancelled"}


def test_a_handed_over_parcel_cannot_be_cancelled(carrier: httpx.Client) -> None:
    parcel = ship(carrier, "shp-7:ship", "7 Road").json()["tracking_id"]
    handed = move(carrier, parcel, "handover", "shp-7:handover")
    refused = move(carrier, parcel, "cancel", "shp-7:cancel")

    assert (handed.status_code, handed.json()["status"]) == (200, "handed_over")
    assert (refused.status_code, refused.json()["type"].rpartition("/")[2]) == (409, "parcel-handed-over")
    assert states(carrier) == {parcel: "handed_over"}
    assert (
        ship(carrier, "shp-7:ship", "7 Road").json()["tracking_id"] == parcel
    )  # the booking replays as it was


def test_an_unknown_parcel_is_a_404_and_a_move_needs_a_key(carrier: httpx.Client) -> None:
    unknown = move(carrier, "TRK-NOPE", "cancel", "k-8")
    assert (unknown.status_code, unknown.json()["type"].rpartition("/")[2]) == (404, "unknown-parcel")
    refused_booking = ship(carrier, "shp-8:ship", "FAIL Test").json()
    assert move(carrier, refused_booking["tracking_id"] or "-", "handover", "k-9").status_code == 404

    parcel = ship(carrier, "shp-9:ship", "9 Road").json()["tracking_id"]
    assert carrier.post(f"/v1/shipments/{parcel}/cancel").status_code == 400
    assert move(carrier, parcel, "handover", "shp-9:ship").status_code == 200  # keys of moves are their own
    assert move(carrier, parcel, "cancel", "shp-9:ship").status_code == 422  # first used for the hand-over
    assert states(carrier)[parcel] == "handed_over"


@pytest.mark.parametrize(("action", "state"), [("cancel", "cancelled"), ("handover", "handed_over")])
def test_timeout_after_a_move_moves_the_parcel_and_then_loses_the_first_answer(
    carrier: httpx.Client, action: str, state: str
) -> None:
    parcel = ship(carrier, "shp-10:ship", "10 Road").json()["tracking_id"]
    with pytest.raises(httpx.ReadTimeout):
        move(carrier, parcel, action, "shp-10:move", f"timeout_after_{action}", timeout=0.5)
    assert states(carrier) == {parcel: state}  # moved, though the client heard nothing

    retry = move(carrier, parcel, action, "shp-10:move")
    assert (retry.json()["status"], retry.headers["Idempotent-Replayed"]) == (state, "true")


def test_each_operation_ignores_the_other_operations_behaviours(carrier: httpx.Client) -> None:
    booking = {"X-Sim-Behaviour": "timeout_after_cancel", "Idempotency-Key": "shp-11:ship"}
    parcel = carrier.post("/v1/shipments", json={"destination": "11 Road"}, headers=booking).json()[
        "tracking_id"
    ]
    moving = {"X-Sim-Behaviour": "timeout_after_booking", "Idempotency-Key": "shp-11:handover"}
    assert carrier.post(f"/v1/shipments/{parcel}/handover", headers=moving).json()["status"] == "handed_over"
