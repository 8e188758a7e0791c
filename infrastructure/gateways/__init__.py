"""Clients of the outside parties over HTTP: the payment provider and the carrier.

Each implements its port in `domain/ports.py`, with the retry discipline of
`infrastructure/gateways/retrying.py`: bounded attempts with backoff and jitter, one
idempotency key for all of them, and a timeout reported as an unknown outcome.
"""

from infrastructure.gateways.carrier import HttpCarrier
from infrastructure.gateways.payments import HttpPaymentProvider
from infrastructure.gateways.retrying import GatewayRefusedError, GatewayUnreachableError, RetryPolicy

__all__ = [
    "GatewayRefusedError",
    "GatewayUnreachableError",
    "HttpCarrier",
    "HttpPaymentProvider",
    "RetryPolicy",
]
