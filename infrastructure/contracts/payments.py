"""Published events of the payments context, and the mapping from its domain events."""

from collections.abc import Callable
from typing import Any

from domain.payments import Payment
from infrastructure.contracts.envelope import Payload
from infrastructure.contracts.language import PublishedContext


class PaymentRequested(Payload):
    event_type = "PaymentRequested"
    order_id: str
    amount_cents: int
    currency: str


class PaymentAuthorized(Payload):
    event_type = "PaymentAuthorized"
    order_id: str
    provider_ref: str


class PaymentDeclined(Payload):
    event_type = "PaymentDeclined"
    order_id: str
    reason: str


class PaymentCaptureRequested(Payload):
    event_type = "PaymentCaptureRequested"
    order_id: str


class PaymentCaptured(Payload):
    event_type = "PaymentCaptured"
    order_id: str
    amount_cents: int


class PaymentVoidRequested(Payload):
    event_type = "PaymentVoidRequested"
    order_id: str


class PaymentVoided(Payload):
    event_type = "PaymentVoided"
    order_id: str


class PaymentRefundRequested(Payload):
    event_type = "PaymentRefundRequested"
    order_id: str
    amount_cents: int


class PaymentRefunded(Payload):
    event_type = "PaymentRefunded"
    order_id: str
    amount_cents: int


MAPPING: dict[type, Callable[[Any], Payload]] = {
    Payment.Requested: lambda e: PaymentRequested(
        order_id=e.order_id, amount_cents=e.amount.cents, currency=e.amount.currency
    ),
    Payment.Authorized: lambda e: PaymentAuthorized(order_id=e.order_id, provider_ref=e.provider_ref),
    Payment.Declined: lambda e: PaymentDeclined(order_id=e.order_id, reason=e.reason),
    Payment.CaptureRequested: lambda e: PaymentCaptureRequested(order_id=e.order_id),
    Payment.Captured: lambda e: PaymentCaptured(order_id=e.order_id, amount_cents=e.amount.cents),
    Payment.VoidRequested: lambda e: PaymentVoidRequested(order_id=e.order_id),
    Payment.Voided: lambda e: PaymentVoided(order_id=e.order_id),
    Payment.RefundRequested: lambda e: PaymentRefundRequested(
        order_id=e.order_id, amount_cents=e.amount.cents
    ),
    Payment.Refunded: lambda e: PaymentRefunded(order_id=e.order_id, amount_cents=e.amount.cents),
}

PUBLISHED = PublishedContext("payments", (Payment,), MAPPING)
