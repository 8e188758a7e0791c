"""The fulfillment context: shipments booked with the carrier, handed over or cancelled."""

from infrastructure.contracts import fulfillment as contract
from services.context import Context
from services.contexts.fulfillment.service import FulfillmentService
from services.saga import compensation, forward

CONTEXT = Context(
    published=contract.PUBLISHED,
    application=FulfillmentService,
    build=lambda wiring: FulfillmentService(carrier=wiring.carrier, vault=wiring.vault, env=wiring.env),
    calls_out=True,
    reactions=forward.FULFILLMENT,
    undo=compensation.FULFILLMENT_UNDO,
)
