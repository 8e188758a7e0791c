"""The order saga: drives every order through the four contexts, one integration event at a
time, and undoes what was done when an order stops.

Handing it the same event twice, or an old event late, changes nothing: every command it
sends has an id derived from the event that caused it (compensations: from the order's
stop), so the command log answers a repeat with the first outcome, and the decisions read
the current state, not what the saga remembers (it remembers nothing). A refusal means the
order moved on (cancelled meanwhile, say): it is logged, and the compensation path, driven
by the stop's own event, puts things right. Any other error propagates, so the consumer
rewinds and the event comes again: `PaymentOutcomeUnknownError` is retried that way, and
the retry asks the provider under the same key.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar
from uuid import UUID

from domain.errors import NotFoundError, RuleViolationError
from domain.orders import Order
from domain.ports import Deadline, DeadlineStore
from infrastructure.contracts import IntegrationEvent
from infrastructure.faults.crash_points import crash_point
from services.saga.compensation import (
    STOPPED,
    UNDO_CONTEXTS,
    UNDO_TRIGGERS,
    Situation,
    compensate,
    compensation_id,
)
from services.saga.forward import FORWARD
from services.saga.steps import Step

if TYPE_CHECKING:  # the composition root's result; nothing of infrastructure at run time
    from services.bootstrap import System

log = logging.getLogger(__name__)
T = TypeVar("T")

COMPLETE_BY = "complete-by"
DEFAULT_COMPLETE_WITHIN = timedelta(seconds=120)


class Delivered(Protocol):
    """One consumed record (`infrastructure.consuming.Delivery`), decoded on demand."""

    def event(self) -> IntegrationEvent: ...


class OrderSaga:
    def __init__(
        self, system: "System", deadlines: DeadlineStore, complete_within: timedelta = DEFAULT_COMPLETE_WITHIN
    ) -> None:
        self.system = system
        self.deadlines = deadlines
        self.complete_within = complete_within
        self._contexts = {app.name.lower(): app for app in system.contexts}
        self._handling = {command: app for app in system.contexts for command in app.handlers()}

    def handle_batch(self, deliveries: Sequence[Delivered]) -> None:
        """The consumer loop's handler: in order, and all or (by raising) none committed."""
        for delivery in deliveries:
            self.handle(delivery.event())
        crash_point("saga.before_offset_commit")

    def handle(self, event: IntegrationEvent) -> None:
        kind = event.event_type
        if kind not in FORWARD and kind not in UNDO_TRIGGERS:
            return
        event.payload()  # validate what we act on against its published schema
        order = self.system.orders.order(UUID(event.data["order_id"]))
        if kind == "OrderPlaced":
            self._schedule_deadline(event, order)
        if order.status in STOPPED:
            if kind in UNDO_TRIGGERS:
                self._compensate(order, event)
        elif not order.is_terminal and kind in FORWARD:
            self.perform(FORWARD[kind](event, order))

    def perform(self, steps: Iterable[Step]) -> None:
        """Send each step's command; then its `then` steps, or its `otherwise` steps."""
        for step in steps:
            self.perform(step.then if self._succeeds(step) else step.otherwise)

    def _compensate(self, order: Order, event: IntegrationEvent) -> None:
        """`perform` the compensation, with a crash point after each step that succeeded:
        between an undo and its record on the order, which the next pass must repair."""
        for step in compensate(self._situation(order), event):
            succeeded = self._succeeds(step)
            if succeeded:
                crash_point("saga.after_compensation_step")
            self.perform(step.then if succeeded else step.otherwise)

    def _succeeds(self, step: Step) -> bool:
        command = step.command
        try:
            receipt = self._handling[type(command)].execute(command)
        except RuleViolationError as refusal:
            log.info(
                "%s %s refused, the order moved on: %s", type(command).__name__, command.command_id, refusal
            )
            return False
        return not step.expect or receipt.result.get("status") == step.expect

    def _schedule_deadline(self, event: IntegrationEvent, order: Order) -> None:
        due_at = event.occurred_at + self.complete_within
        self.deadlines.schedule(Deadline(order.id, COMPLETE_BY, due_at, event.correlation_id))

    def _situation(self, order: Order) -> Situation:
        """What the other contexts hold for a stopped order, read now."""
        system, key = self.system, str(order.id)
        stock = (system.inventory.stock_item(line.sku) for line in order.lines)
        return Situation(
            order=order,
            payment=_found(lambda: system.payments.payment_of(order.id)),
            shipment=_found(lambda: system.fulfillment.shipment_of(order.id)),
            held_skus=tuple(item.sku for item in stock if key in item.reservations),
            applied=frozenset(step for step in UNDO_CONTEXTS if self._applied(order.id, step)),
        )

    def _applied(self, order_id: UUID, step: str) -> bool:
        log_of_context = self._contexts[UNDO_CONTEXTS[step]].command_log
        record = log_of_context.find_command(compensation_id(order_id, step))
        return record is not None and "result" in record.outcome


def _found(load: Callable[[], T]) -> T | None:
    try:
        return load()
    except NotFoundError:
        return None
