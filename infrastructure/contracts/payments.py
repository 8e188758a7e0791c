"""Published events of the payments context, and the mapping from its domain events."""

from collections.abc import Callable
from typing import Any

from domain.payments import Payment
from infrastructure.contracts.envelope import Payload


class PaymentRequested(Payload):
    event_type = "PaymentRequested"
    order_id: str
    amount_cents: int
    currency: str


class PaymentOutcomeUnknown(Payload):
    event_type = "PaymentOutcomeUnknown"
    order_id: str
    operation: str


class PaymentAuthorized(Payload):
    event_type = "PaymentAuthorized"
    order_id: str
    provider_ref: str


class PaymentDeclined(Payload):
    event_type = "PaymentDeclined"
    order_id: str
    reason: str


class PaymentCaptured(Payload):
    event_type = "PaymentCaptured"
    order_id: str
    amount_cents: int


class PaymentVoided(Payload):
    event_type = "PaymentVoided"
    order_id: str


class PaymentRefunded(Payload):
    event_type = "PaymentRefunded"
    order_id: str
    amount_cents: int


MAPPING: dict[type, Callable[[Any], Payload]] = {
    Payment.Requested: lambda e: PaymentRequested(
        order_id=e.order_id, amount_cents=e.amount.cents, currency=e.amount.currency
    ),
    Payment.OutcomeUnknown: lambda e: PaymentOutcomeUnknown(order_id=e.order_id, operation=e.operation),
    Payment.Authorized: lambda e: PaymentAuthorized(order_id=e.order_id, provider_ref=e.provider_ref),
    Payment.Declined: lambda e: PaymentDeclined(order_id=e.order_id, reason=e.reason),
    Payment.Captured: lambda e: PaymentCaptured(order_id=e.order_id, amount_cents=e.amount.cents),
    Payment.Voided: lambda e: PaymentVoided(order_id=e.order_id),
    Payment.Refunded: lambda e: PaymentRefunded(order_id=e.order_id, amount_cents=e.amount.cents),
}
