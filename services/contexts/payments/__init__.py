"""The payments context: authorize, capture, void and refund, through the payment provider."""

from infrastructure.contracts import payments as contract
from services.context import Context
from services.contexts.payments.service import PaymentsService
from services.saga import compensation, forward

CONTEXT = Context(
    published=contract.PUBLISHED,
    application=PaymentsService,
    build=lambda wiring: PaymentsService(provider=wiring.provider, vault=wiring.vault, env=wiring.env),
    calls_out=True,
    reactions=forward.PAYMENTS,
    undo=compensation.PAYMENTS_UNDO,
)
