"""`GET /metrics` in the Prometheus text format: the process's metrics (`System.metrics`, whose
families are all defined in infrastructure/metrics.py and reached here through the composition
root). The API counts requests by method, route and status, their duration, what the
Idempotency-Key layer did with each POST (executed, recovered from the command log, replayed
from the store, in flight, mismatch, released), and the provider's webhooks (accepted, or a
duplicate of one accepted before); and, in the system's own families, the duplicates it
absorbed (a stored answer replayed, a key still in flight, a webhook's copy) and the keys
reused for another request.

Every label takes one of a fixed set of values, whatever clients send, since each new value
is a new series for the scraper to keep: the method is one of HTTP's usual ones or `other`,
and the route is the template a request matched (`/v1/orders/{order_id}`) or `unmatched`.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.bootstrap import Metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

__all__ = ["CONTENT_TYPE", "METHODS", "Metrics", "RequestMetrics"]


class RequestMetrics:
    """ASGI middleware counting every answer, labelled as the module's docstring says."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = getattr(scope.get("route"), "path_format", "unmatched")
            self.metrics.api_requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.api_request_duration.labels(method=method, route=route).observe(
                time.perf_counter() - started
            )
