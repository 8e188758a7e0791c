"""The port to the webhook store: where the provider's webhooks are recorded once per event id.
`infrastructure/webhook_store.py` implements it, in PostgreSQL and in memory.

The provider delivers every event at least once (its simulator always twice), so the record
is the deduplication: a copy finds its event id taken and changes nothing. The record need not
be kept for ever: once the provider's retry horizon has passed, no copy can come any more but
a replay, and the signature check refuses those (`webhooks.py` says why). Infrastructure may
not import services, so a webhook crosses the port as a plain tuple (a `ReceivedWebhook`).
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, NamedTuple, Protocol


class ReceivedWebhook(NamedTuple):
    event_id: str
    type: str  # payment.authorized, payment.captured, ...
    idempotency_key: str  # the key the payments context sent with the operation
    reference: str  # the provider's id of the operation
    order_id: str
    payload: Mapping[str, Any]  # the body as received


class WebhookStore(Protocol):
    @property
    def retry_horizon(self) -> timedelta:
        """How long an event is remembered after it was received: how long the provider may
        still send a copy of it."""
        ...

    def record(self, webhook: ReceivedWebhook) -> bool:
        """Keep `webhook` unless its event id is known: True the first time, False for every
        copy (which changes nothing). Atomic: of concurrent copies, exactly one gets True."""
        ...

    def purge(self) -> int:
        """Forget the events received longer than the retry horizon ago; returns how many."""
        ...
