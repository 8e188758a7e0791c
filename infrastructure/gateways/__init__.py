"""Clients of the outside parties, one package per party: the payment provider
(`infrastructure/gateways/payments/`) and the carrier (`infrastructure/gateways/carrier/`).

Each client implements its party's port in `domain/ports.py`. Those over HTTP share the
retry discipline of `infrastructure/gateways/retrying.py`, exported here: bounded attempts
with backoff and jitter, one idempotency key for all of them, and a timeout reported as an
unknown outcome. The parties themselves, as processes of their own, are the simulators
(`infrastructure/simulators/`).
"""

from infrastructure.gateways.retrying import GatewayRefusedError, GatewayUnreachableError, RetryPolicy

__all__ = ["GatewayRefusedError", "GatewayUnreachableError", "RetryPolicy"]
