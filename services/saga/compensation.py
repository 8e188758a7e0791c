"""Undoing what an order's flow did, once the order is stopped (cancelled or failed).

Decided from what the other contexts hold now, not from which events were seen, so the
decision is right whatever was done before a crash, a redelivery or a late event. Steps run
in reverse order of the flow: cancel the shipment, give the money back (void an
authorization, refund a capture), release the stock; each, once applied, is recorded on the
order with `RecordCompensation`. A payment whose outcome is still unknown is first resolved
by asking the provider again under the same key; if that authorizes it, the
`PaymentAuthorized` event brings the saga back here to void it.

Every compensating command has one id per order and step, whichever event led here (the
stop itself, or a late authorization, capture, shipment or reservation): two passes racing
each other issue the same command, the command log applies it once, and a refund reaches
the provider under one key. A step whose command the log holds as applied is recorded, not
repeated: that repairs a crash between undoing and recording.
"""

from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from domain.commands import Command
from domain.fulfillment import CancelShipment, Shipment, ShipmentStatus
from domain.ids import caused_command_id
from domain.inventory import ReleaseStock
from domain.orders import Order, OrderStatus, RecordCompensation
from domain.payments import OPEN, AuthorizePayment, Payment, PaymentStatus, RefundPayment, VoidPayment
from infrastructure.contracts import IntegrationEvent
from services.saga.steps import Step

C = TypeVar("C", bound=Command)

STOPPED = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})
# The stop itself, and the events that may bring something to undo after it.
UNDO_TRIGGERS = frozenset(
    {
        "OrderCancelled",
        "OrderFailed",
        "PaymentAuthorized",
        "PaymentCaptured",
        "ShipmentShipped",
        "StockReserved",
    }
)
# Each compensation step and the context whose command log knows whether it was applied.
UNDO_CONTEXTS = {
    "shipment_cancelled": "fulfillment",
    "payment_voided": "payments",
    "payment_refunded": "payments",
    "stock_released": "inventory",
}


@dataclass(frozen=True)
class Situation:
    """A stopped order and what the other contexts hold for it now."""

    order: Order
    payment: Payment | None
    shipment: Shipment | None
    held_skus: tuple[str, ...]  # SKUs whose stock is still reserved for the order
    applied: frozenset[str]  # steps whose compensating command the log holds as applied

    @property
    def payment_unresolved(self) -> bool:
        return self.payment is not None and self.payment.status in OPEN

    def still_holds(self, step: str) -> bool:
        """Whether the other contexts still hold what `step` gives back."""
        payment, shipment = self.payment, self.shipment
        if step == "shipment_cancelled":
            return shipment is not None and shipment.status is ShipmentStatus.REQUESTED
        if step == "payment_voided":
            return payment is not None and payment.status is PaymentStatus.AUTHORIZED
        if step == "payment_refunded":
            return payment is not None and payment.status is PaymentStatus.CAPTURED
        return bool(self.held_skus)


def compensation_id(order_id: UUID, step: str) -> str:
    """The one command id of a compensation step of an order: its cause is the order's stop."""
    return caused_command_id(f"{order_id}:stopped", step)


def compensate(situation: Situation, event: IntegrationEvent) -> tuple[Step, ...]:
    issue = _Issuer(situation, event)
    steps = [Step(issue.resolve_payment())] if situation.payment_unresolved else []
    for step in UNDO_CONTEXTS:  # in reverse order of the flow
        if step in situation.order.compensations:
            continue
        record = Step(issue.record(step))
        if step in situation.applied:
            steps.append(record)
        elif situation.still_holds(step):
            steps.append(Step(issue.undo(step), then=(record,)))
    return tuple(steps)


@dataclass(frozen=True)
class _Issuer:
    """Builds the compensating commands of one order, each under its one id."""

    situation: Situation
    event: IntegrationEvent

    def resolve_payment(self) -> AuthorizePayment:
        order = self.situation.order
        return self._issue(
            AuthorizePayment, "payment_resolved", amount=order.total, token=order.payment_token
        )

    def record(self, step: str) -> RecordCompensation:
        return self._issue(RecordCompensation, f"record:{step}", step=step)

    def undo(self, step: str) -> Command:
        if step == "shipment_cancelled":
            return self._issue(CancelShipment, step)
        if step == "payment_voided":
            return self._issue(VoidPayment, step)
        if step == "payment_refunded":
            assert self.situation.payment is not None
            return self._issue(RefundPayment, step, amount=self.situation.payment.net_captured)
        return self._issue(ReleaseStock, step, skus=tuple(line.sku for line in self.situation.order.lines))

    def _issue(self, command_type: type[C], name: str, **fields: Any) -> C:
        order_id = self.situation.order.id
        return command_type(
            command_id=compensation_id(order_id, name),
            correlation_id=self.event.correlation_id,
            causation_id=self.event.event_id,
            **{"order_id": order_id, **fields},
        )
