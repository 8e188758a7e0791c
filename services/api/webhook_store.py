"""The port to the webhook store: where the provider's webhooks are recorded once per event id.
`infrastructure/webhook_store.py` implements it, in PostgreSQL and in memory.

The provider delivers every event at least once (its simulator always twice), so the record
is the deduplication: a copy finds its event id taken and changes nothing. Infrastructure may
not import services, so a webhook crosses the port as a plain tuple (a `ReceivedWebhook`).
"""

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol


class ReceivedWebhook(NamedTuple):
    event_id: str
    type: str  # payment.authorized, payment.captured, ...
    idempotency_key: str  # the key the payments context sent with the operation
    reference: str  # the provider's id of the operation
    order_id: str
    payload: Mapping[str, Any]  # the body as received


class WebhookStore(Protocol):
    def record(self, webhook: ReceivedWebhook) -> bool:
        """Keep `webhook` unless its event id is known: True the first time, False for every
        copy (which changes nothing). Atomic: of concurrent copies, exactly one gets True."""
        ...
