"""An in-process carrier that keeps its own idempotency keys.

It behaves like a real carrier where it matters: the same key always gets the first answer
(one parcel, one tracking id), a destination it cannot serve is refused, a booked parcel is
either cancelled or handed over, never both (the carrier simulator's rules,
`infrastructure/simulators/carrier/parcels.py`), and it can be told to time out once *after*
doing the work, which is the case that ships twice for a naive client.

A destination containing "FAIL" (e.g. a recipient named "FAIL Test") is refused: that is
how a scenario takes the shipment-failure path. An unknown tracking id, or a key first used
for another request, raises `RequestRejectedError` (what the simulator answers with 404/422).
"""

import itertools
import threading
from collections.abc import Hashable

from domain.ports import CarrierReply, CarrierTimeoutError
from infrastructure.simulators import problems
from infrastructure.simulators.carrier.rules import REFUSED_MARKER, TRANSITIONS

__all__ = ["REFUSED_MARKER", "InMemoryCarrier"]


class InMemoryCarrier:
    def __init__(self) -> None:
        self._answers: dict[str, tuple[Hashable, CarrierReply]] = {}  # key -> (request, reply)
        self._bookings: list[tuple[str, str]] = []  # (key, tracking id)
        self._states: dict[str, str] = {}  # tracking id -> booked, cancelled or handed_over
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.timeouts_after_booking: set[str] = set()  # keys (of any operation) to time out once

    def ship(self, *, idempotency_key: str, destination: str) -> CarrierReply:
        with self._lock:
            if idempotency_key not in self._answers:
                self._answers[idempotency_key] = (
                    ("ship", destination),
                    self._book(idempotency_key, destination),
                )
            return self._answer(idempotency_key, ("ship", destination))

    def cancel(self, *, idempotency_key: str, tracking_id: str) -> CarrierReply:
        return self._move(idempotency_key, "cancel", tracking_id)

    def hand_over(self, *, idempotency_key: str, tracking_id: str) -> CarrierReply:
        return self._move(idempotency_key, "hand_over", tracking_id)

    def bookings(self) -> list[tuple[str, str]]:
        """(key, tracking id) of every parcel the carrier actually booked."""
        with self._lock:
            return list(self._bookings)

    def parcels(self) -> dict[str, str]:
        """Every booked parcel's state (booked, cancelled, handed_over), by tracking id."""
        with self._lock:
            return dict(self._states)

    def _book(self, key: str, destination: str) -> CarrierReply:
        if REFUSED_MARKER in destination:
            return CarrierReply("refused", "", f"cannot deliver to {destination!r}")
        tracking_id = f"TRK-{next(self._serial):06d}"
        self._bookings.append((key, tracking_id))
        self._states[tracking_id] = "booked"
        return CarrierReply("accepted", tracking_id)

    def _move(self, key: str, operation: str, tracking_id: str) -> CarrierReply:
        transition = TRANSITIONS[operation]
        with self._lock:
            state = self._states.get(tracking_id)
            if state is None:
                raise problems.UNKNOWN_PARCEL.rejected(f"{operation} {key}: no parcel {tracking_id!r}")
            if key not in self._answers:
                why = transition.refusal(operation, state)
                if why is None:
                    self._states[tracking_id] = transition.to
                    reply = CarrierReply("accepted", tracking_id)
                else:
                    reply = CarrierReply("refused", tracking_id, why, transition.problem.name)
                self._answers[key] = ((operation, tracking_id), reply)
            return self._answer(key, (operation, tracking_id))

    def _answer(self, key: str, request: Hashable) -> CarrierReply:
        first, reply = self._answers[key]
        if first != request:
            raise problems.KEY_REUSED.rejected(
                f"idempotency key {key!r} was first used for a different request"
            )
        if key in self.timeouts_after_booking:
            self.timeouts_after_booking.discard(key)
            raise CarrierTimeoutError(f"{key}: no answer")
        return reply
