"""The fulfillment context: one shipment per order, booked with the carrier, then handed over
or cancelled.

Like payments, its commands never call the carrier: each records the shipment's intent and
returns the call to make; a gateway worker performs it through `ask` and feeds the answer
back as `RecordCarrierAnswer`. Carrier idempotency keys are the call ids,
`<shipment id>:<operation>`, so any retry, replay or redelivery asks the carrier the same
question and cannot book a second parcel.
"""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.asking import asking
from domain.calls import Call, CallRefusedError
from domain.errors import UnknownShipmentError
from domain.fulfillment import (
    CancelShipment,
    HandOverShipment,
    RecordCarrierAnswer,
    RequestShipment,
    Shipment,
)
from domain.ids import shipment_id
from domain.orders import ShippingAddress
from domain.ports import Carrier, CarrierReply
from domain.privacy import PersonalDataErasedError, Sealed, Vault
from services.application import Decision, Handler
from services.context import ContextApplication


class FulfillmentService(ContextApplication):
    name = "Fulfillment"

    def __init__(self, carrier: Carrier, vault: Vault, env: dict[str, Any] | None = None) -> None:
        """`vault` opens the address, sealed by the order, just before the carrier is asked."""
        super().__init__(env)
        self.carrier = carrier
        self.vault = vault

    def handlers(self) -> dict[type, Handler]:
        return {
            RequestShipment: self.request,
            HandOverShipment: self.hand_over,
            CancelShipment: self.cancel,
            RecordCarrierAnswer: self.record_answer,
        }

    def request(self, command: RequestShipment) -> Decision:
        """The first request of an order creates its shipment and asks for a booking."""
        try:
            return self._decided(self.shipment_of(command.order_id))
        except UnknownShipmentError:
            shipment, call = Shipment.request(command.order_id, command.destination, command.trace)
            return self._decided(shipment, call)

    def hand_over(self, command: HandOverShipment) -> Decision:
        shipment = self.shipment_of(command.order_id)
        return self._decided(shipment, shipment.request_hand_over(command.trace))

    def cancel(self, command: CancelShipment) -> Decision:
        shipment = self.shipment_of(command.order_id)
        return self._decided(shipment, shipment.request_cancel(command.trace))

    def record_answer(self, command: RecordCarrierAnswer) -> Decision:
        shipment, trace = self.shipment_of(command.order_id), command.trace
        answers: dict[str, Callable[[], None]] = {
            "book": lambda: (
                shipment.book(command.tracking_id, trace)
                if command.status == "accepted"
                else shipment.fail(command.reason, trace)
            ),
            "hand_over": lambda: shipment.ship(trace),
            "cancel": lambda: shipment.cancel(trace),
        }
        answers[command.operation]()
        return Decision([shipment], self._result(shipment), answered=(command.call_id,))

    def ask(self, call: Call) -> RecordCarrierAnswer:
        """Put one call to the carrier and return the command recording its answer. Raises the
        carrier's timeout when the answer is unknown, and `CallRefusedError` when the carrier
        refuses a cancel or a hand-over the shipment's state allowed (a drift to look at)."""
        asked: dict[str, Callable[[str, Any], CarrierReply]] = {
            "book": self._book,
            "hand_over": lambda key, r: self.carrier.hand_over(
                idempotency_key=key, tracking_id=r["tracking_id"]
            ),
            "cancel": lambda key, r: self.carrier.cancel(idempotency_key=key, tracking_id=r["tracking_id"]),
        }
        with asking(call):  # the HTTP client says where the call comes from (domain/asking.py)
            reply = asked[call.operation](call.call_id, call.request)
        if reply.status != "accepted" and call.operation != "book":
            raise CallRefusedError(f"carrier refused {call.operation} {call.call_id}: {reply.reason}")
        return RecordCarrierAnswer(
            command_id=call.answer_id,
            correlation_id=call.correlation_id,
            causation_id=call.call_id,
            order_id=UUID(call.request["order_id"]),
            call_id=call.call_id,
            operation=call.operation,
            status=reply.status,
            tracking_id=reply.tracking_id,
            reason=reply.reason,
        )

    def _book(self, key: str, request: Any) -> CarrierReply:
        try:
            address = ShippingAddress.opened(self.vault, Sealed.from_json(request["destination"]))
        except PersonalDataErasedError:  # the customer was forgotten: there is nowhere to ship
            return CarrierReply(status="refused", tracking_id="", reason="the customer's data was erased")
        return self.carrier.ship(idempotency_key=key, destination=str(address))

    def shipment_of(self, order_id: Any) -> Shipment:
        return self.load(shipment_id(order_id), Shipment, UnknownShipmentError)

    def _decided(self, shipment: Shipment, call: Call | None = None) -> Decision:
        return Decision([shipment], self._result(shipment), calls=(call,) if call else ())

    @staticmethod
    def _result(shipment: Shipment) -> dict[str, Any]:
        return {
            "shipment_id": str(shipment.id),
            "status": shipment.status.value,
            "tracking_id": shipment.tracking_id,
        }
