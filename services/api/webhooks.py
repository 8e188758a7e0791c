"""`POST /v1/webhooks/psp`: the payment provider's webhooks, recorded once per event id.

The provider is not a tenant and holds no API key. A delivery proves that it comes from the
provider by its `Webhook-Signature: t=<unix seconds>,v1=<hex>`: the time it was sent, and the
HMAC-SHA256 of `<t>.` followed by the exact body bytes under the secret the two share
(ORDERS_PSP_WEBHOOK_SECRET), compared in constant time. Without a valid one, or with one made
more than `TOLERANCE` (five minutes) before or after this server's clock, it is refused with
401 and recorded nowhere.

The provider delivers every event at least once, so the event id deduplicates. The first
delivery is recorded (`webhook_store.py`) and answered `{"status": "accepted"}`; a copy changes
nothing and is answered `{"status": "duplicate"}`. Both are 200, because either way the provider
must stop retrying. The id is read from the signed body, not from the unsigned `Webhook-Id`
header. Fields this API does not read are kept in the payload and not refused, since providers
add fields over time.

The provider sends back in `X-Correlation-ID` the correlation id that came with the call that
made the operation: the webhook's log lines carry it, so they are found with the rest of the
order's flow. The header is not signed, so
it is only ever logged, and one that is not 1-255 printable ASCII characters is left out.

Replays. Whoever saw a delivery can send it again, signature and all. Within the tolerance the
copy finds its event id recorded and changes nothing; after it, the signature check refuses the
copy before the store is asked. That is what lets the store forget: it purges an event once its
retry horizon has passed since the event was received, and the router is only built when that
horizon is at least twice the tolerance. The first copy was accepted no earlier than a
tolerance before its `t`, and a replay carries the same `t`, so it gets past the check no later
than a tolerance after `t`: within twice the tolerance of the recording, while the event is
still remembered. The default horizon, three days, also leaves any difference between this
server's clock and the database's far behind.
"""

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from structlog.contextvars import bound_contextvars

from services.api.metrics import Metrics
from services.api.problems import VALIDATION_FAILED, WEBHOOK_UNSIGNED, documented, plain
from services.api.webhook_store import ReceivedWebhook, WebhookStore

SIGNATURE_HEADER = "Webhook-Signature"
CORRELATION_HEADER = "X-Correlation-ID"
CORRELATION_ID = re.compile(r"[\x20-\x7e]{1,255}")  # a correlation id is a request or command id
SIGNATURE_PATTERN = "^t=[0-9]{1,12},v1=[0-9a-f]{64}$"
SIGNED = re.compile(r"t=(?P<t>[0-9]{1,12}),v1=(?P<v1>[0-9a-f]{64})")
TOLERANCE = timedelta(minutes=5)  # how far from this server's clock a signature may have been made
CHALLENGE = {"WWW-Authenticate": f'HMAC-SHA256 header="{SIGNATURE_HEADER}"'}
Text = Annotated[str, Field(min_length=1, max_length=255)]
EXAMPLE: dict[str, Any] = {
    "id": "evt_0f8e4c2b9a7d4e1f8c3b6a5d2e1f0a9b",
    "type": "payment.authorized",
    "data": {"idempotency_key": "payment-1:authorize", "reference": "authorize_1a2b", "order_id": "order-1"},
}
log = logging.getLogger(__name__)


class OperationData(BaseModel):
    """The provider's operation that the event announces: what this API reads of it."""

    model_config = ConfigDict(strict=True)

    idempotency_key: Text
    reference: Text
    order_id: Text


class PspWebhook(BaseModel):
    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [EXAMPLE]})

    id: Text
    type: Text
    data: OperationData


class WebhookReceipt(BaseModel):
    status: Literal["accepted", "duplicate"]


def router(
    store: WebhookStore,
    secret: str,
    metrics: Metrics,
    tolerance: timedelta = TOLERANCE,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The webhook route; `clock` tells unix time. Refuses a store that would forget an event
    while a replay of it can still pass the signature check (see the module's docstring)."""
    if store.retry_horizon < 2 * tolerance:
        raise ValueError(
            f"the webhook store's retry horizon ({store.retry_horizon}) must be at least twice"
            f" the signature's tolerance ({tolerance})"
        )
    api = APIRouter(prefix="/v1")
    SignedBody = Annotated[bytes, Depends(signed_body(secret, tolerance, clock))]

    @api.post(
        "/webhooks/psp",
        response_model=WebhookReceipt,
        responses=documented(WEBHOOK_UNSIGNED, VALIDATION_FAILED, plain(400), plain(413), plain(415)),
    )
    def psp_webhook(event: PspWebhook, body: SignedBody, request: Request) -> WebhookReceipt:
        with bound_contextvars(**_correlation(request)):
            return receive(event, json.loads(body))

    def receive(event: PspWebhook, payload: Any) -> WebhookReceipt:
        if _holds_nul(payload):  # PostgreSQL keeps no NUL in text or jsonb: refuse, don't fail
            raise VALIDATION_FAILED.error("a webhook may not contain the NUL character")
        data = event.data
        webhook = ReceivedWebhook(
            event.id, event.type, data.idempotency_key, data.reference, data.order_id, payload
        )
        status: Literal["accepted", "duplicate"] = "accepted" if store.record(webhook) else "duplicate"
        metrics.api_webhooks.labels(outcome=status).inc()
        if status == "duplicate":
            metrics.duplicates.labels(layer="webhook").inc()
        log.info("psp webhook %s (%s, %s): %s", event.id, event.type, data.idempotency_key, status)
        return WebhookReceipt(status=status)

    return api


def signed_body(
    secret: str, tolerance: timedelta, clock: Callable[[], float]
) -> Callable[..., Awaitable[bytes]]:
    """The dependency answering the body once its signature checks out and was made within
    `tolerance` of `clock`, or 401."""
    key = secret.encode()

    async def dependency(
        request: Request,
        signature: Annotated[
            str | None,
            Header(
                alias=SIGNATURE_HEADER,
                description="`t=` the unix time it was sent, and `v1=` the hex HMAC-SHA256 of"
                " `<t>.<body>` under the shared secret.",
                json_schema_extra=_signature_schema,
            ),
        ] = None,
    ) -> bytes:
        body = await request.body()
        signed = SIGNED.fullmatch(signature or "")
        if signed is None or not _signs(key, signed, body):
            raise WEBHOOK_UNSIGNED.error(
                f"send `{SIGNATURE_HEADER}: t=<unix time>,v1=<HMAC-SHA256 of <t>.<body>>`", CHALLENGE
            )
        age = clock() - int(signed["t"])
        if abs(age) > tolerance.total_seconds():
            when = f"{age:.0f} s ago" if age > 0 else f"{-age:.0f} s ahead of this server's clock"
            raise WEBHOOK_UNSIGNED.error(
                f"the signature was made {when}; it must be made within"
                f" {tolerance.total_seconds():.0f} s of the delivery",
                CHALLENGE,
            )
        return body

    return dependency


def _signs(key: bytes, signed: re.Match[str], body: bytes) -> bool:
    """Whether `signed` (the header, parsed) is the signature of `body` at its time under `key`."""
    expected = hmac.new(key, f"{signed['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signed["v1"])


def _signature_schema(schema: dict[str, Any]) -> None:
    """Document the header as the string it must be (the None is how a missing one becomes 401)."""
    schema.pop("anyOf", None)
    schema.update(type="string", pattern=SIGNATURE_PATTERN)


def _correlation(request: Request) -> dict[str, str]:
    """The correlation id the provider sent back, if it is one."""
    sent = request.headers.get(CORRELATION_HEADER, "")
    return {"correlation_id": sent} if CORRELATION_ID.fullmatch(sent) else {}


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
