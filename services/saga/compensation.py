"""Undoing what an order's flow did, once the order has stopped (cancelled or failed),
declared per context as data: which command undoes the step, in which states of the
context there is something to undo, and in which the undoing is done.

    fulfillment  booked         cancel the booking          -> cancelled
    payments     authorized     void the authorization      -> voided
                 captured       refund what was captured    -> refunded
    inventory    held           release the reservation     -> released

Decided from what the contexts hold now, not from which events were seen, so the decision
is right whatever happened before a crash, a redelivery or a late event. A state that is
neither (a booking or an authorization whose answer is still pending, a void under way)
is waited for: the gateway keeps asking under the same key, and the answer's event brings
the saga back here. So a booking whose answer was lost is resolved before it is cancelled,
and a late authorization is voided. Each undo, once done, is recorded on the order
(`RecordCompensation`). Every compensating command has one id per order and step,
whichever event led here, so two passes racing each other issue the same command and the
command log applies it once.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.commands import Command
from domain.fulfillment import CancelShipment, Shipment, ShipmentStatus
from domain.ids import caused_command_id
from domain.inventory import ReleaseStock
from domain.orders import Order, OrderStatus, RecordCompensation
from domain.payments import Payment, PaymentStatus, RefundPayment, VoidPayment
from infrastructure.contracts import IntegrationEvent
from services.saga.steps import Step

STOPPED = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})
HELD, RELEASED, NOTHING = "held", "released", "nothing"  # the stock's states, for an order
REFUNDING = "refunding"  # captured, and everything captured is being given back


@dataclass(frozen=True)
class Situation:
    """A stopped order and what the other contexts hold for it now."""

    order: Order
    payment: Payment | None
    shipment: Shipment | None
    stock: str  # HELD, RELEASED (by this compensation) or NOTHING
    # The state of each other context whose undo steps read it themselves (`Undo.state_of`).
    states: Mapping[str, str] = field(default_factory=dict)

    def state(self, context: str) -> str:
        """The context's state for the order, as the undo table names them."""
        if context in self.states:
            return self.states[context]
        if context == "inventory":
            return self.stock
        if context == "payments" and self.payment is not None:
            nothing_left = self.payment.status is PaymentStatus.CAPTURED and not self.payment.refundable.cents
            return REFUNDING if nothing_left else str(self.payment.status)
        aggregate = self.shipment if context == "fulfillment" else None
        return str(aggregate.status) if aggregate is not None else NOTHING


@dataclass(frozen=True)
class Undo:
    """How one context's step for an order is undone once the order stops."""

    step: str  # what the order records once it is done
    context: str
    command: type[Command]
    needed_in: frozenset[str]  # the context's states that hold something to undo
    done_in: frozenset[str]  # the states in which it is undone
    fields: Callable[[Situation], dict[str, Any]] = lambda _: {}
    # A context the saga does not read by name (it reads inventory, payments and fulfillment
    # itself) says how: its state for an order, from its application and the order's id; and
    # which of its event types may bring something to undo or show it undone (as UNDO_TRIGGERS).
    state_of: Callable[[Any, UUID], str] | None = None
    triggers: frozenset[str] = frozenset()


# Each context's undo steps, the `undo` of its declaration in services/registry.py. The
# registry runs them in reverse order of the flow: the contexts from last to first.
FULFILLMENT_UNDO = (
    Undo("shipment_cancelled", "fulfillment", CancelShipment,
         frozenset({ShipmentStatus.BOOKED}), frozenset({ShipmentStatus.CANCELLED})),
)  # fmt: skip
PAYMENTS_UNDO = (
    Undo("payment_voided", "payments", VoidPayment,
         frozenset({PaymentStatus.AUTHORIZED}), frozenset({PaymentStatus.VOIDED})),
    Undo("payment_refunded", "payments", RefundPayment,
         frozenset({PaymentStatus.CAPTURED}), frozenset({PaymentStatus.REFUNDED}),
         lambda s: {"amount": s.payment.refundable} if s.payment else {}),
)  # fmt: skip
INVENTORY_UNDO = (
    Undo("stock_released", "inventory", ReleaseStock, frozenset({HELD}), frozenset({RELEASED}),
         lambda s: {"skus": tuple(line.sku for line in s.order.lines), "tenant_id": s.order.tenant_id}),
)  # fmt: skip
UNDO_TRIGGERS = frozenset(  # the stop itself, and the events that may bring something to undo
    {"OrderCancelled", "OrderFailed", "PaymentAuthorized", "PaymentCaptured", "PaymentVoided",
     "PaymentRefunded", "ShipmentBooked", "ShipmentCancelled", "StockReserved", "StockReleased"}
)  # fmt: skip


def compensation_id(order_id: UUID, step: str) -> str:
    """The one command id of a compensation step of an order: its cause is the order's stop."""
    return caused_command_id(f"{order_id}:stopped", step)


def compensate(situation: Situation, event: IntegrationEvent, undos: Sequence[Undo]) -> tuple[Step, ...]:
    """The undo commands to send now, and the records of the undos that are done; `undos`
    in the order to take them (`Registry.undo`: reverse order of the flow)."""
    steps = []
    for undo in undos:
        if undo.step in situation.order.compensations:
            continue
        state = situation.state(undo.context)
        if state in undo.done_in:
            steps.append(_issue(situation, event, RecordCompensation, f"record:{undo.step}", step=undo.step))
        elif state in undo.needed_in:
            steps.append(_issue(situation, event, undo.command, undo.step, **undo.fields(situation)))
    return tuple(Step(command) for command in steps)


def _issue(
    situation: Situation, event: IntegrationEvent, kind: type[Command], name: str, **fields: Any
) -> Command:
    order_id = situation.order.id
    return kind(
        command_id=compensation_id(order_id, name),
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        **{"order_id": order_id, **fields},
    )
