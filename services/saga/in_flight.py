"""The orders a saga process is driving, for its metrics: how many, and how old the oldest is.

The saga remembers nothing it needs to decide (`services/saga/saga.py`); this is only what
it reports. It follows the orders context's own events, which are keyed by the order's id:
all of an order's are on one partition, so with several saga processes the one that sees an
order placed also sees it end. An order is in flight from the first of its events the process
handles until one that finds it completed, cancelled or failed. A restarted process counts an
order again from its next event, so an order that makes no progress at all is not counted
after a restart (its deadline, kept in PostgreSQL, fails it all the same).
"""

import threading
import time
from collections.abc import Callable
from uuid import UUID

from domain.orders import Order

ORDERS = "orders"  # the context whose events are followed


class InFlight:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._placed_at: dict[UUID, float] = {}
        self._lock = threading.Lock()

    def saw(self, order: Order) -> None:
        """Note the order as the saga just loaded it."""
        with self._lock:
            if order.is_terminal:
                self._placed_at.pop(order.id, None)
            else:
                self._placed_at.setdefault(order.id, order.created_on.timestamp())

    def count(self) -> int:
        with self._lock:
            return len(self._placed_at)

    def oldest_age_s(self) -> float:
        """Seconds since the oldest order in flight was placed; 0 when none is."""
        with self._lock:
            oldest = min(self._placed_at.values(), default=None)
        return 0.0 if oldest is None else max(0.0, self.clock() - oldest)
