"""The fulfillment context: one shipment per order."""

from typing import Any

from domain.errors import UnknownShipmentError
from domain.fulfillment import CancelShipment, RecordShipmentShipped, RequestShipment, Shipment
from domain.ids import shipment_id
from services.application import Decision, Handler
from services.context import ContextApplication


class FulfillmentService(ContextApplication):
    name = "Fulfillment"

    def handlers(self) -> dict[type, Handler]:
        return {
            RequestShipment: self.request,
            RecordShipmentShipped: self.record_shipped,
            CancelShipment: self.cancel,
        }

    def request(self, command: RequestShipment) -> Decision:
        try:
            shipment = self.shipment_of(command.order_id)  # requested before: nothing to do
        except UnknownShipmentError:
            shipment = Shipment.request(command.order_id, command.destination, command.trace)
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
