"""The fulfillment context: one shipment per order, booked with the carrier.

The carrier's idempotency key is `<shipment id>:ship`, so any retry, replay or redelivery of
`ShipShipment` asks the carrier the same question and cannot book a second parcel.
"""

from typing import Any

from domain.errors import UnknownShipmentError
from domain.fulfillment import (
    CancelShipment,
    RecordShipmentShipped,
    RequestShipment,
    Shipment,
    ShipmentStatus,
    ShipShipment,
)
from domain.ids import shipment_id
from domain.ports import Carrier, CarrierReply, CarrierTimeoutError
from services.application import Decision, Handler
from services.context import ContextApplication


class ShipmentOutcomeUnknownError(Exception):
    """The carrier did not answer; nothing is recorded, and the same command, retried later,
    asks the carrier again with the same key."""


class FulfillmentService(ContextApplication):
    name = "Fulfillment"

    def __init__(self, carrier: Carrier, env: dict[str, Any] | None = None) -> None:
        super().__init__(env)
        self.carrier = carrier

    def handlers(self) -> dict[type, Handler]:
        return {
            RequestShipment: self.request,
            ShipShipment: self.ship,
            RecordShipmentShipped: self.record_shipped,
            CancelShipment: self.cancel,
        }

    def request(self, command: RequestShipment) -> Decision:
        try:
            shipment = self.shipment_of(command.order_id)  # requested before: nothing to do
        except UnknownShipmentError:
            shipment = Shipment.request(command.order_id, command.destination, command.trace)
        return self._decided(shipment)

    def ship(self, command: ShipShipment) -> Decision:
        shipment = self.shipment_of(command.order_id)
        if shipment.status is not ShipmentStatus.SHIPPED:
            shipment.check_can_ship()  # a cancelled shipment is refused before the carrier is asked
            reply = self._book(shipment)
            if reply.status == "accepted":
                shipment.ship(reply.tracking_id, command.trace)
            else:
                shipment.fail(reply.reason, command.trace)
        return self._decided(shipment)

    def record_shipped(self, command: RecordShipmentShipped) -> Decision:
        shipment = self.shipment_of(command.order_id)
        shipment.ship(command.tracking_id, command.trace)
        return self._decided(shipment)

    def cancel(self, command: CancelShipment) -> Decision:
        shipment = self.shipment_of(command.order_id)
        shipment.cancel(command.trace)
        return self._decided(shipment)

    def shipment_of(self, order_id: Any) -> Shipment:
        return self.load(shipment_id(order_id), Shipment, UnknownShipmentError)

    def _book(self, shipment: Shipment) -> CarrierReply:
        try:
            return self.carrier.ship(idempotency_key=f"{shipment.id}:ship", destination=shipment.destination)
        except CarrierTimeoutError:
            raise ShipmentOutcomeUnknownError(f"carrier did not answer for {shipment.id}") from None

    @staticmethod
    def _decided(shipment: Shipment) -> Decision:
        return Decision(
            [shipment],
            {
                "shipment_id": str(shipment.id),
                "status": shipment.status.value,
                "tracking_id": shipment.tracking_id,
            },
        )
