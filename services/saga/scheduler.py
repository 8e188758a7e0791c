"""Fires the saga's deadlines: an order that has not shipped by its deadline is failed, and
its compensation follows from the OrderFailed event like any other stop.

Only the leader fires (`Leadership`: across processes, the lock of
`infrastructure/leadership.py`); standbys wait. A deadline fires at most one effect however
often it is fired: the FailOrder it sends has an id derived from the deadline, and a fired
deadline is marked and never due again. The mark carries the leader's fence, so a leader
that lost the lock without knowing (paused past its lease) is refused once its successor
has taken it, and stops its round there.
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from domain.errors import RuleViolationError
from domain.ids import caused_command_id
from domain.orders import FailOrder, OrderStatus
from domain.ports import Deadline, DeadlineStore, Fence, FencedOutError
from services.contexts.orders.service import OrdersService

log = logging.getLogger(__name__)


class Leadership(Protocol):
    @property
    def fence(self) -> Fence | None:
        """What the leader's marks are fenced with; None for marks that need none."""
        ...

    def hold(self) -> bool:
        """True while this process is the one that may fire; tries to become it if not."""
        ...


class SoleLeadership:
    """For a single process (tests, in memory): always the leader, with no one to fence out."""

    fence: Fence | None = None

    def hold(self) -> bool:
        return True


def utc_now() -> datetime:
    return datetime.now(UTC)


def _uncounted(outcome: str) -> None:
    return None


class DeadlineScheduler:
    def __init__(
        self,
        deadlines: DeadlineStore,
        orders: OrdersService,
        leadership: Leadership,
        clock: Callable[[], datetime] = utc_now,
        interval_s: float = 0.5,
        fired: Callable[[str], object] = _uncounted,
    ) -> None:
        self.deadlines = deadlines
        self.orders = orders
        self.leadership = leadership
        self.clock = clock
        self.interval_s = interval_s
        self.fired = fired  # counts each deadline fired by its outcome (the entry point wires it)

    def run(self, stop: threading.Event) -> None:
        """Fire due deadlines while leader, until `stop` is set; a failed round is retried."""
        while not stop.is_set():
            try:
                if self.leadership.hold():
                    self.fire_due(self.clock())
            except FencedOutError as refused:
                log.warning("deadlines: %s; standing by", refused)
            except Exception:
                log.exception("firing deadlines failed; trying again in %.1fs", self.interval_s)
            stop.wait(self.interval_s)

    def fire_due(self, now: datetime, limit: int = 100) -> int:
        """Fire every deadline due at `now`; returns how many were due. FencedOutError once a
        later leader has taken over."""
        fence = self.leadership.fence
        due = self.deadlines.due(now, limit)
        for deadline in due:
            outcome = self._fire(deadline)
            self.deadlines.mark_fired(deadline, now, fence)
            self.fired(outcome)
        return len(due)

    def _fire(self, deadline: Deadline) -> str:
        """Fail the order if it is still on its way; what became of the deadline: "failed",
        "in_time" (it shipped, or stopped for another reason) or "moved_on" (refused meanwhile)."""
        order = self.orders.order(deadline.order_id)
        if order.is_terminal or order.status is OrderStatus.SHIPPED:
            return "in_time"  # made it in time, or stopped for another reason
        fail = FailOrder(
            command_id=caused_command_id(deadline.key, "FailOrder"),
            correlation_id=deadline.correlation_id,
            causation_id=deadline.key,
            order_id=deadline.order_id,
            reason="deadline passed",
        )
        try:
            self.orders.execute(fail)
        except RuleViolationError as refusal:
            log.info("deadline %s: the order moved on: %s", deadline.key, refusal)
            return "moved_on"
        return "failed"
