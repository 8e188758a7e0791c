"""The payment provider simulator's HTTP API, Stripe-like: one resource per operation.

  POST /v1/authorizations  {order_id, amount_cents, currency, token}   -> an operation
  POST /v1/captures        {authorization, amount_cents, currency}
  POST /v1/voids           {authorization}
  POST /v1/refunds         {authorization, amount_cents, currency}
  GET  /charges?order_id=  the ledger of one order: every operation, approved, declined or refused

Every POST needs an `Idempotency-Key`; a replay is answered from the ledger with
`Idempotent-Replayed: true`. An operation is answered with 200 and its `status` (approved or
declined). Errors are problem+json (`infrastructure/simulators/problems.py`): 400 an
unreadable request, 404 no approved authorization, 422 a reused key, 503 a simulated failure.

Like a real provider it refuses what an authorization's state does not allow
(`infrastructure/simulators/psp/rules.py`): 409 a capture after a void, a second capture, a
void after a capture or a second void under another key, a refund of what is not captured;
422 a capture above the authorized amount, a refund above what remains captured, another
currency. A refusal is recorded as its key's answer (status "refused", no money moved), so a
retry under the key gets the same problem; its body carries the operation's fields (its own
`reference`, `authorization_ref`, `idempotency_key`) next to `type`, `title`, `status` and
`detail`. The authorization's token picks the behaviour (`infrastructure/simulators/psp/tokens.py`).
An operation keeps the `X-Correlation-ID` its first request came with, and its webhooks send
it back (`infrastructure/simulators/caller_ids.py`).
"""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from domain.money import MAX_CENTS, Money
from infrastructure.settings import Settings
from infrastructure.simulators import problems, web
from infrastructure.simulators.caller_ids import CorrelationId
from infrastructure.simulators.psp import tokens
from infrastructure.simulators.psp.ledger import (
    FailedBeforeChargeError,
    PspLedger,
    UnknownAuthorizationError,
)
from infrastructure.simulators.psp.webhooks import WebhookSender

Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Text = Annotated[str, Field(min_length=1, max_length=255)]


class AuthorizationRequest(BaseModel):
    order_id: Text
    amount_cents: Cents
    currency: Currency
    token: Text


class VoidRequest(BaseModel):
    authorization: Text


class AmountRequest(VoidRequest):
    amount_cents: Cents
    currency: Currency


def create_app(settings: Settings, schema: str = "psp") -> FastAPI:
    """The simulator on its ledger in `schema`; it sends webhooks if settings name a URL."""
    url = settings.psp_webhook_url
    ledger = PspLedger(settings, schema, sends_webhooks=url is not None)
    errors = {
        FailedBeforeChargeError: problems.SERVER_ERROR,
        UnknownAuthorizationError: problems.UNKNOWN_AUTHORIZATION,
    }
    app = web.simulator_app(
        "Payment provider simulator", errors, _webhooks(settings, schema, url), duplicates_layer="provider"
    )

    @app.post("/v1/authorizations")
    async def authorize(
        body: AuthorizationRequest, key: web.IdempotencyKey, correlation: CorrelationId, request: Request
    ) -> JSONResponse:
        amount = Money(body.amount_cents, body.currency)
        answer = await run_in_threadpool(
            lambda: ledger.authorize(
                key, order_id=body.order_id, amount=amount, token=body.token, correlation_id=correlation
            )
        )
        if body.token == tokens.SLOW:
            await anyio.sleep(tokens.SLOW_ANSWER_S)
        return await web.reply(answer, request)

    @app.post("/v1/captures")
    async def capture(
        body: AmountRequest, key: web.IdempotencyKey, correlation: CorrelationId, request: Request
    ) -> JSONResponse:
        amount = Money(body.amount_cents, body.currency)
        answer = await run_in_threadpool(
            lambda: ledger.capture(
                key, authorization=body.authorization, amount=amount, correlation_id=correlation
            )
        )
        return await web.reply(answer, request)

    @app.post("/v1/voids")
    async def void(
        body: VoidRequest, key: web.IdempotencyKey, correlation: CorrelationId, request: Request
    ) -> JSONResponse:
        answer = await run_in_threadpool(
            lambda: ledger.void(key, authorization=body.authorization, correlation_id=correlation)
        )
        return await web.reply(answer, request)

    @app.post("/v1/refunds")
    async def refund(
        body: AmountRequest, key: web.IdempotencyKey, correlation: CorrelationId, request: Request
    ) -> JSONResponse:
        amount = Money(body.amount_cents, body.currency)
        answer = await run_in_threadpool(
            lambda: ledger.refund(
                key, authorization=body.authorization, amount=amount, correlation_id=correlation
            )
        )
        return await web.reply(answer, request)

    @app.get("/charges")
    def charges(order_id: Annotated[str, Query(min_length=1)]) -> JSONResponse:
        listed = [asdict(operation) for operation in ledger.charges(order_id)]
        return JSONResponse({"order_id": order_id, "charges": listed})

    return app


def _webhooks(settings: Settings, schema: str, url: str | None) -> web.Lifespan | None:
    """The app's lifespan: a webhook sender in a thread while it serves, when a URL is set."""
    if url is None:
        return None

    @asynccontextmanager
    async def sending(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        sender = threading.Thread(
            target=WebhookSender(settings, schema, url).run, args=(stop,), name="webhooks", daemon=True
        )
        sender.start()
        try:
            yield
        finally:
            stop.set()
            await run_in_threadpool(sender.join)

    return sending
