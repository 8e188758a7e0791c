"""One contract for every `Carrier`: the HTTP client against the simulator and the in-memory
fake. A booked parcel is cancelled or handed over, never both; doing either again (under
another key) answers as the first did; the other is refused, naming the parcel; a replay
under one key answers identically; an unknown parcel or a reused key is a wrong request."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from support.simulators import carrier_simulator

from domain.ports import Carrier, CarrierReply, RequestRejectedError
from infrastructure.gateways import RetryPolicy
from infrastructure.gateways.carrier import HttpCarrier, InMemoryCarrier

pytestmark = pytest.mark.integration


@dataclass
class Parcels:
    carrier: Carrier
    states: Callable[[], dict[str, str]]  # tracking id -> state, as the carrier holds them

    def booked(self, key: str = "shp-1:ship") -> str:
        reply = self.carrier.ship(idempotency_key=key, destination="1 Demo Street, Utrecht")
        assert reply.status == "accepted"
        return reply.tracking_id


@pytest.fixture(params=["http", "memory"])
def parcels(request: pytest.FixtureRequest) -> Iterator[Parcels]:
    if request.param == "memory":
        memory = InMemoryCarrier()
        yield Parcels(memory, memory.parcels)
        return
    with ExitStack() as stack:
        served = stack.enter_context(carrier_simulator(request.getfixturevalue("database_url")))
        client = HttpCarrier(served.url, RetryPolicy(timeout_s=5, attempts=1))
        stack.callback(client.close)

        def states() -> dict[str, str]:
            listed = served.get("/shipments")["shipments"]
            return {s["tracking_id"]: s["state"] for s in listed if s["status"] == "accepted"}

        yield Parcels(client, states)


def cancel(parcels: Parcels, key: str, tracking_id: str) -> CarrierReply:
    return parcels.carrier.cancel(idempotency_key=key, tracking_id=tracking_id)


def hand_over(parcels: Parcels, key: str, tracking_id: str) -> CarrierReply:
    return parcels.carrier.hand_over(idempotency_key=key, tracking_id=tracking_id)


def test_a_booked_parcel_is_cancelled_and_then_cannot_be_handed_over(parcels: Parcels) -> None:
    parcel = parcels.booked()

    assert cancel(parcels, "cancel-1", parcel) == CarrierReply("accepted", parcel)
    assert cancel(parcels, "cancel-2", parcel) == CarrierReply("accepted", parcel)  # already cancelled
    refused = hand_over(parcels, "hand-over-1", parcel)
    assert (refused.status, refused.tracking_id, refused.code) == ("refused", parcel, "parcel-cancelled")
    assert refused.reason == "cannot hand over: the parcel is cancelled"
    assert parcels.states() == {parcel: "cancelled"}


def test_a_handed_over_parcel_cannot_be_cancelled(parcels: Parcels) -> None:
    parcel = parcels.booked()

    assert hand_over(parcels, "hand-over-1", parcel) == CarrierReply("accepted", parcel)
    assert hand_over(parcels, "hand-over-2", parcel) == CarrierReply("accepted", parcel)
    refused = cancel(parcels, "cancel-1", parcel)
    assert (refused.status, refused.tracking_id, refused.code) == ("refused", parcel, "parcel-handed-over")
    assert parcels.states() == {parcel: "handed_over"}


def test_a_replay_under_the_same_key_answers_identically_refusals_included(parcels: Parcels) -> None:
    parcel = parcels.booked()
    handed = hand_over(parcels, "hand-over-1", parcel)
    refusal = cancel(parcels, "cancel-1", parcel)

    assert hand_over(parcels, "hand-over-1", parcel) == handed
    assert cancel(parcels, "cancel-1", parcel) == refusal
    assert parcels.carrier.ship(idempotency_key="shp-1:ship", destination="1 Demo Street, Utrecht") == (
        CarrierReply("accepted", parcel)  # the booking's answer, though the parcel has moved on
    )


def test_parcels_move_independently(parcels: Parcels) -> None:
    first, second, third = (parcels.booked(f"shp-{n}:ship") for n in (1, 2, 3))
    cancel(parcels, "cancel-1", first)
    hand_over(parcels, "hand-over-2", second)

    assert parcels.states() == {first: "cancelled", second: "handed_over", third: "booked"}


@pytest.mark.parametrize(
    ("ask", "status"),
    [
        (lambda parcels, parcel: cancel(parcels, "cancel-9", "TRK-UNKNOWN"), 404),
        (lambda parcels, parcel: hand_over(parcels, "hand-over-9", "TRK-UNKNOWN"), 404),
        (lambda parcels, parcel: cancel(parcels, "cancel-1", parcel), 422),  # first a hand-over's key
    ],
    ids=["cancel-unknown", "hand-over-unknown", "key-reused"],
)
def test_a_wrong_request_is_rejected_not_refused(
    parcels: Parcels, ask: Callable[[Parcels, str], CarrierReply], status: int
) -> None:
    parcel = parcels.booked()
    hand_over(parcels, "cancel-1", parcel)
    for _ in range(2):
        with pytest.raises(RequestRejectedError) as rejected:
            ask(parcels, parcel)
        assert rejected.value.status == status
    assert parcels.states() == {parcel: "handed_over"}
