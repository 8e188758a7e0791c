"""The same call queue in memory, for unit tests and the in-process pump.

It keeps the PostgreSQL queue's contract, time included: a lease or a retry delay makes a
call unavailable until the clock passes it, so the tests exercise the same schedule.
"""

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from domain.calls import Call
from infrastructure.calls.queue import ParkedCall


@dataclass
class _Row:
    call: Call
    due_at: float
    leased_until: float = 0.0
    state: str = "pending"
    error: str = ""
    done_at: float = 0.0


class MemoryCallQueue:
    channel = ""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()

    def write(self, calls: Sequence[Call], answered: Sequence[str]) -> None:
        """What the recorder does in the command's transaction (it holds its own lock)."""
        with self._lock:
            for call in calls:
                self._rows.setdefault(call.call_id, _Row(call, self.clock()))
            for call_id in answered:
                if (row := self._rows.get(call_id)) is not None and row.state != "answered":
                    row.state, row.done_at = "answered", self.clock()
                    secretless = {k: v for k, v in row.call.request.items() if k != "token"}
                    row.call = replace(row.call, request=secretless)

    def claim(self, limit: int, lease_s: float) -> list[Call]:
        now = self.clock()
        with self._lock:
            due = [r for r in self._rows.values() if r.state == "pending" and r.due_at <= now]
            free = sorted((r for r in due if r.leased_until <= now), key=lambda r: r.due_at)[:limit]
            for row in free:
                row.call = replace(row.call, attempts=row.call.attempts + 1)
                row.leased_until = now + lease_s
            return [row.call for row in free]

    def retry(self, call_id: str, delay_s: float, error: str) -> None:
        with self._lock:
            row = self._rows.get(call_id)
            if row is not None and row.state == "pending":
                row.due_at, row.leased_until, row.error = self.clock() + delay_s, 0.0, error

    def park(self, call_id: str, error: str) -> None:
        with self._lock:
            row = self._rows.get(call_id)
            if row is not None and row.state == "pending":
                row.state, row.error, row.done_at, row.leased_until = "parked", error, self.clock(), 0.0

    def unpark(self, call_id: str) -> bool:
        with self._lock:
            row = self._rows.get(call_id)
            if row is None or row.state != "parked":
                return False
            row.state, row.due_at, row.call = "pending", self.clock(), replace(row.call, attempts=0)
            return True

    def answered(self) -> list[Call]:
        """The calls answered so far, as the table keeps them (for tests)."""
        with self._lock:
            return [row.call for row in self._rows.values() if row.state == "answered"]

    def pending(self) -> int:
        with self._lock:
            return sum(1 for row in self._rows.values() if row.state == "pending")

    def parked(self) -> list[ParkedCall]:
        with self._lock:
            rows = sorted((r for r in self._rows.values() if r.state == "parked"), key=lambda r: r.done_at)
            return [ParkedCall(r.call, r.error, datetime.now(UTC)) for r in rows]
