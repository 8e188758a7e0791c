"""An in-process carrier that keeps its own idempotency keys.

It behaves like a real carrier where it matters: the same key always gets the first answer
(one parcel, one tracking id), a destination it cannot serve is refused, and it can be told
to time out once *after* booking, which is the case that ships twice for a naive client.

A destination containing "FAIL" (e.g. a recipient named "FAIL Test") is refused: that is
how a scenario takes the shipment-failure path.
"""

import itertools
import threading

from domain.ports import CarrierReply, CarrierTimeoutError

REFUSED_MARKER = "FAIL"


class InMemoryCarrier:
    def __init__(self) -> None:
        self._replies: dict[str, CarrierReply] = {}
        self._bookings: list[tuple[str, str]] = []  # (key, tracking id)
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.timeouts_after_booking: set[str] = set()  # keys to answer with a timeout once

    def ship(self, *, idempotency_key: str, destination: str) -> CarrierReply:
        with self._lock:
            if idempotency_key not in self._replies:
                self._replies[idempotency_key] = self._book(idempotency_key, destination)
            if idempotency_key in self.timeouts_after_booking:
                self.timeouts_after_booking.discard(idempotency_key)
                raise CarrierTimeoutError(f"ship {idempotency_key}: no answer")
            return self._replies[idempotency_key]

    def bookings(self) -> list[tuple[str, str]]:
        """(key, tracking id) of every parcel the carrier actually booked."""
        with self._lock:
            return list(self._bookings)

    def _book(self, key: str, destination: str) -> CarrierReply:
        if REFUSED_MARKER in destination:
            return CarrierReply("refused", "", f"cannot deliver to {destination!r}")
        tracking_id = f"TRK-{next(self._serial):06d}"
        self._bookings.append((key, tracking_id))
        return CarrierReply("accepted", tracking_id)
