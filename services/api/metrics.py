"""`GET /metrics` in the Prometheus text format: requests by method, route and status, their
duration, what the Idempotency-Key layer did with each POST (executed, recovered from the
command log, replayed from the store, in flight, mismatch, released), and the provider's
webhooks (accepted, or a duplicate of one accepted before).

Every label takes one of a fixed set of values, whatever clients send, since each new value
is a new series for the scraper to keep: the method is one of HTTP's usual ones or `other`,
and the route is the template a request matched (`/v1/orders/{order_id}`) or `unmatched`.
"""

import threading
import time
from collections import defaultdict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FAMILIES = {
    "orders_api_requests_total": ("counter", "HTTP requests answered, by method, route and status."),
    "orders_api_request_duration_seconds": ("summary", "Time to answer, by method and route."),
    "orders_api_idempotency_total": ("counter", "What the Idempotency-Key layer did with a POST."),
    "orders_api_webhooks_total": ("counter", "The provider's webhooks: accepted, or a duplicate."),
}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
Labels = tuple[tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self._samples: dict[tuple[str, Labels], float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, name: str, value: float = 1.0, **labels: str) -> None:
        with self._lock:
            self._samples[name, tuple(sorted(labels.items()))] += value

    def render(self) -> str:
        with self._lock:
            samples = sorted(self._samples.items())
        lines = []
        for family, (kind, text) in FAMILIES.items():
            lines += [f"# HELP {family} {text}", f"# TYPE {family} {kind}"]
            for (name, labels), value in samples:
                if name in (family, f"{family}_sum", f"{family}_count"):
                    lines.append(f"{name}{_labels(labels)} {value!r}")
        return "\n".join(lines) + "\n"


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
            self.metrics.add("orders_api_requests_total", method=method, route=route, status=str(status))
            self.metrics.add(
                "orders_api_request_duration_seconds_sum",
                time.perf_counter() - started,
                method=method,
                route=route,
            )
            self.metrics.add("orders_api_request_duration_seconds_count", method=method, route=route)


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, value in labels)
    return "{" + ",".join(f'{name}="{value}"' for (name, _), value in zip(labels, escaped, strict=True)) + "}"
