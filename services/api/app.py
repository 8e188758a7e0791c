"""The HTTP API's composition: `create_app(system, store, webhook_store, config)` wires the
routes, the provider's webhooks, the problem handlers, the body limit, the metrics, the
request ids and the reaper around one System. It reads no environment; the `orders api`
command (services/cli/api.py) builds the config from Settings."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from services.api import dashboard, handlers, operations, routes, webhooks
from services.api.auth import tenant_of
from services.api.idempotency import KEY_HEADER, Idempotency
from services.api.limits import BodyLimit
from services.api.metrics import RequestMetrics
from services.api.problems import Problem
from services.api.rate_limit import WriteRateLimit
from services.api.reaper import Reaper
from services.api.request_ids import request_ids
from services.api.store import IdempotencyStore
from services.api.webhook_store import WebhookStore
from services.bootstrap import System


@dataclass(frozen=True)
class ApiConfig:
    api_keys: Mapping[str, str]  # API key -> tenant
    psp_webhook_secret: str  # shared with the provider, which signs its webhooks with it
    lease: timedelta = timedelta(seconds=30)  # how long a crashed request's claim blocks its key
    ttl: timedelta = timedelta(hours=24)  # how long a key's response is kept
    reap_every_s: float = 60.0
    max_body_bytes: int = 64 * 1024
    # Writes executed per API key, in the `limits` library's notation ("100/second"): well
    # above what one client of the load benchmark sends (40 orders a second).
    write_rate_limit: str = "100/second"
    # The other processes' metrics, as (name, URL) pairs, which the dashboard adds to the API's own.
    metrics_urls: tuple[tuple[str, str], ...] = ()


class OrdersApi(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        """Every middleware, inside `request_ids`: around Starlette's own error middleware too,
        so that even the 500 it answers a crash with names its request."""
        return request_ids(super().build_middleware_stack())

    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema, plus the Problem schema that every error response refers to, and
        the Idempotency-Key and Webhook-Signature headers marked required."""
        schema = super().openapi()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}), Problem=problem)
            _require_headers(schema, {KEY_HEADER, webhooks.SIGNATURE_HEADER})
        return schema


def _require_headers(schema: dict[str, Any], names: set[str]) -> None:
    """The headers are optional to FastAPI only so that their absence is answered by the check
    that needs them (400 for the key, 401 for the signature), not 422; to clients they are
    required."""
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        for parameter in operation.get("parameters", []):
            if parameter["name"] in names:
                parameter["required"] = True


def create_app(
    system: System,
    store: IdempotencyStore,
    webhook_store: WebhookStore,
    config: ApiConfig,
    tables: dashboard.Tables | None = None,  # what the dashboard reads; none in memory
) -> FastAPI:
    metrics = system.metrics  # the process's, from the composition root
    reaper = Reaper(store, webhook_store, config.reap_every_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with reaper.running():
            yield

    app = OrdersApi(
        title="Idempotent orders",
        version="1",
        description="Every POST needs an `Idempotency-Key`, except the provider's webhooks, which are"
        " signed; errors are RFC 9457 problems.",
        lifespan=lifespan,
    )
    handlers.install(app)
    gate = Idempotency(store, config.lease, config.ttl, metrics, WriteRateLimit(config.write_rate_limit))
    tenant = tenant_of(config.api_keys)
    app.include_router(routes.router(system, gate, tenant))
    for context in system.registry:  # the endpoints a context declares with itself
        if context.router is not None:
            app.include_router(context.router(system, gate, tenant))
    app.include_router(webhooks.router(webhook_store, config.psp_webhook_secret, metrics))
    app.include_router(operations.router(system, metrics))
    app.include_router(dashboard.router(system, metrics, tables, dict(config.metrics_urls)))
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)  # added last: outermost, so it counts the 413s
    return app
