"""The order saga: drives every order through the contexts, one integration event at a time,
and undoes what was done when an order stops. Which steps each context takes, and how each
is undone, the saga reads from the system's registry (`services/registry.py`).

It decides and records; it never waits on the outside world. Each step is a command to a
context, applied in PostgreSQL; a step that needs the payment provider or the carrier
records the call, which a gateway worker performs (`services/gateway.py`), and the answer
comes back as an event. Handing the saga the same event twice, or an old event late,
changes nothing: every command it sends has an id derived from the event that caused it
(compensations: from the order's stop), so the command log answers a repeat with the first
outcome, and the decisions read the current state, not what the saga remembers (it
remembers nothing it decides by; `InFlight` keeps what its metrics report). A refusal
means the order moved on (cancelled meanwhile, say): it is logged, and the compensation
path, driven by the stop's own event, puts things right. A record handled again whose
commands the log all answered is counted as a duplicate absorbed by the consumer.
Any other error propagates to the caller (`services/saga/records.py`), which retries the
record later or, if it can never be handled, parks it as a dead letter.
"""

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from domain.errors import NotFoundError, RuleViolationError
from domain.fulfillment import Shipment
from domain.orders import Order
from domain.payments import Payment
from domain.ports import Deadline, DeadlineStore
from infrastructure.contracts import IntegrationEvent
from infrastructure.faults.crash_points import crash_point
from services.saga.compensation import (
    HELD,
    NOTHING,
    RELEASED,
    STOPPED,
    UNDO_TRIGGERS,
    Situation,
    compensate,
    compensation_id,
)
from services.saga.in_flight import ORDERS, InFlight
from services.saga.steps import Step

if TYPE_CHECKING:  # the composition root's result; nothing of infrastructure at run time
    from services.bootstrap import System

log = logging.getLogger(__name__)
T = TypeVar("T")

COMPLETE_BY = "complete-by"
DEFAULT_COMPLETE_WITHIN = timedelta(seconds=120)
# Read only to see an order end (`InFlight`): the saga has nothing to do after it.
ENDED = frozenset({"OrderCompleted"})


class OrderSaga:
    def __init__(
        self, system: "System", deadlines: DeadlineStore, complete_within: timedelta = DEFAULT_COMPLETE_WITHIN
    ) -> None:
        self.system = system
        self.deadlines = deadlines
        self.complete_within = complete_within
        self._handling = {command: app for app in system.contexts for command in app.handlers()}
        self.forward = system.registry.forward
        self.undo = system.registry.undo
        self.triggers = UNDO_TRIGGERS.union(*(undo.triggers for undo in self.undo))
        # any other type is passed over unread
        self.relevant = frozenset(self.forward) | self.triggers | ENDED
        self.in_flight = InFlight()
        self._handling_now = threading.local()  # per worker: was each command answered from the log?

    def handle(self, event: IntegrationEvent) -> None:
        """React to one event of an order. Raises `NotFoundError` for an event about an
        order that does not exist: a record no retry can fix."""
        kind = event.event_type
        if kind not in self.relevant:
            return
        event.payload()  # validate what we act on against its published schema
        order = self.system.orders.order(UUID(event.data["order_id"]))
        if event.context == ORDERS:
            self.in_flight.saw(order)
        replayed: list[bool] = []
        self._handling_now.replayed = replayed
        try:
            if kind == "OrderPlaced":
                self._schedule_deadline(event, order)
            if order.status in STOPPED:
                if kind in self.triggers:
                    self._compensate(order, event)
            elif not order.is_terminal:
                others = _Others(self.system, order.id)
                for reaction in self.forward.get(kind, ()):
                    self.perform(reaction(event, order, others))
        finally:
            self._handling_now.replayed = None
        if replayed and all(replayed):  # a record handled before: the log answered every command
            self.system.metrics.duplicates.labels(layer="consumer").inc()

    def perform(self, steps: Iterable[Step]) -> None:
        """Send each step's command; then its `then` steps, or its `otherwise` steps."""
        for step in steps:
            self.perform(step.then if self._succeeds(step) else step.otherwise)

    def _compensate(self, order: Order, event: IntegrationEvent) -> None:
        """`perform` the compensation, with a crash point after each step that succeeded:
        between an undo and its record on the order, which a later pass must still do."""
        for step in compensate(self._situation(order), event, self.undo):
            if self._succeeds(step):
                crash_point("saga.after_compensation_step")

    def _succeeds(self, step: Step) -> bool:
        command = step.command
        try:
            receipt = self._handling[type(command)].execute(command, expect_new=True)
        except RuleViolationError as refusal:
            self._answered(refusal.replayed)
            log.info(
                "%s %s refused, the order moved on: %s", type(command).__name__, command.command_id, refusal
            )
            return False
        self._answered(receipt.replayed)
        return not step.expect or receipt.result.get("status") == step.expect

    def _answered(self, replayed: bool) -> None:
        answers = getattr(self._handling_now, "replayed", None)
        if answers is not None:
            answers.append(replayed)

    def _schedule_deadline(self, event: IntegrationEvent, order: Order) -> None:
        due_at = event.occurred_at + self.complete_within
        self.deadlines.schedule(Deadline(order.id, COMPLETE_BY, due_at, event.correlation_id))

    def _situation(self, order: Order) -> Situation:
        """What the other contexts hold for a stopped order, read now."""
        others = _Others(self.system, order.id)
        app = self.system.app
        states = {u.context: u.state_of(app(u.context), order.id) for u in self.undo if u.state_of}
        return Situation(order, others.payment(), others.shipment(), self._stock(order), states)

    def _stock(self, order: Order) -> str:
        inventory, key = self.system.inventory, str(order.id)
        if any(key in inventory.stock_item(line.sku, order.tenant_id).reservations for line in order.lines):
            return HELD
        released = inventory.command_log.find_command(compensation_id(order.id, "stock_released"))
        return RELEASED if released is not None and "result" in released.outcome else NOTHING


class _Others:
    """The payment and the shipment of one order, loaded when first asked for."""

    def __init__(self, system: "System", order_id: UUID) -> None:
        self._system, self._order_id = system, order_id

    def payment(self) -> Payment | None:
        return _found(lambda: self._system.payments.payment_of(self._order_id))

    def shipment(self) -> Shipment | None:
        return _found(lambda: self._system.fulfillment.shipment_of(self._order_id))


def _found(load: Callable[[], T]) -> T | None:
    try:
        return load()
    except NotFoundError:
        return None
