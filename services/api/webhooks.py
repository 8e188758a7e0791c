"""`POST /v1/webhooks/psp`: the payment provider's webhooks, recorded once per event id.

The provider is not a tenant and holds no API key. A delivery proves that it comes from the
provider by its `Webhook-Signature`: `sha256=` and the hex HMAC-SHA256 of the exact body bytes
under the secret the two share (ORDERS_PSP_WEBHOOK_SECRET), compared in constant time. Without
a valid one it is refused with 401 and recorded nowhere.

The provider delivers every event at least once, so the event id deduplicates. The first
delivery is recorded (`webhook_store.py`) and answered `{"status": "accepted"}`; a copy changes
nothing and is answered `{"status": "duplicate"}`. Both are 200, because either way the provider
must stop retrying. The id is read from the signed body, not from the unsigned `Webhook-Id`
header. A signed delivery that someone replays is one more copy, so the signature needs no
timestamp. Fields this API does not read are kept in the payload and not refused, since
providers add fields over time.
"""

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from services.api.metrics import Metrics
from services.api.problems import VALIDATION_FAILED, WEBHOOK_UNSIGNED, documented
from services.api.webhook_store import ReceivedWebhook, WebhookStore

SIGNATURE_HEADER = "Webhook-Signature"
SIGNATURE_PATTERN = "^sha256=[0-9a-f]{64}$"
Text = Annotated[str, Field(min_length=1, max_length=255)]
EXAMPLE: dict[str, Any] = {
    "id": "evt_0f8e4c2b9a7d4e1f8c3b6a5d2e1f0a9b",
    "type": "payment.authorized",
    "data": {"idempotency_key": "payment-1:authorize", "reference": "authorize_1a2b", "order_id": "order-1"},
}


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


def router(store: WebhookStore, secret: str, metrics: Metrics) -> APIRouter:
    api = APIRouter(prefix="/v1")
    SignedBody = Annotated[bytes, Depends(signed_body(secret))]

    @api.post("/webhooks/psp", response_model=WebhookReceipt, responses=documented(401, 422))
    def psp_webhook(event: PspWebhook, body: SignedBody) -> WebhookReceipt:
        data, payload = event.data, json.loads(body)
        if _holds_nul(payload):  # PostgreSQL keeps no NUL in text or jsonb: refuse, don't fail
            raise VALIDATION_FAILED.error("a webhook may not contain the NUL character")
        webhook = ReceivedWebhook(
            event.id, event.type, data.idempotency_key, data.reference, data.order_id, payload
        )
        status: Literal["accepted", "duplicate"] = "accepted" if store.record(webhook) else "duplicate"
        metrics.add("orders_api_webhooks_total", outcome=status)
        return WebhookReceipt(status=status)

    return api


def signed_body(secret: str) -> Callable[..., Awaitable[bytes]]:
    """The dependency answering the body once its signature checks out, or 401."""
    key = secret.encode()

    async def dependency(
        request: Request,
        signature: Annotated[
            str | None,
            Header(
                alias=SIGNATURE_HEADER,
                description="`sha256=` and the hex HMAC-SHA256 of the body under the shared secret.",
                json_schema_extra=_signature_schema,
            ),
        ] = None,
    ) -> bytes:
        body = await request.body()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), (signature or "").encode()):
            raise WEBHOOK_UNSIGNED.error(
                f"send `{SIGNATURE_HEADER}: sha256=<HMAC-SHA256 of the body>`",
                {"WWW-Authenticate": f'HMAC-SHA256 header="{SIGNATURE_HEADER}"'},
            )
        return body

    return dependency


def _signature_schema(schema: dict[str, Any]) -> None:
    """Document the header as the string it must be (the None is how a missing one becomes 401)."""
    schema.pop("anyOf", None)
    schema.update(type="string", pattern=SIGNATURE_PATTERN)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
