"""Every metric family of the system, defined once, with prometheus_client.

`Metrics` registers each family in one registry; `METRICS` is the process's, in the client's
default registry (which adds the `process_*` and `python_*` families), and each process
serves it: the API at its own `GET /metrics`, every other process with `serve` on
`ORDERS_METRICS_PORT`. A test makes a `Metrics()` of its own to count from zero.

Every label takes one of a fixed set of values, whatever the traffic: a context, projection
or consumer name, a layer, an outcome, an HTTP method or route template. Never an id: each new
value is a new series for the scraper to keep.

Where each family is counted is the docs' business (docs/ARCHITECTURE.md, "Metrics and
alerts"); services/ reaches `METRICS` only through the composition root (`System.metrics`),
or as the counting callables it hands in.
"""

import re
from collections.abc import Iterable

import httpx
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Summary,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

# A `_created` series beside every counter doubles the lines a scrape reads, for a start
# time that `process_start_time_seconds` already gives.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Where a duplicate was absorbed, outermost first: the API's stored answer, the API's claim
# on a key still running, the command log, a consumer (a projection's version record, or a
# saga record all of whose commands the log answered), the provider and the carrier
# simulators (their records under the key), and the API's record of a provider webhook.
LAYERS = ("http_replay", "http_in_flight", "command_log", "consumer", "provider", "carrier", "webhook")
# What `orders reconcile` compares: the read models with their events, and the payments and the
# shipments with the provider's and the carrier's records.
RECONCILIATION_KINDS = ("read_model", "payment", "shipment")
NAME = re.compile(r"orders_[a-z_]+")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry

        def counter(name: str, text: str, *labels: str) -> Counter:
            return Counter(name, text, labels, registry=self.registry)

        def gauge(name: str, text: str, *labels: str) -> Gauge:
            return Gauge(name, text, labels, registry=self.registry)

        # The HTTP API (services/api/).
        self.api_requests = counter(
            "orders_api_requests",
            "HTTP requests answered, by method, route and status.",
            "method",
            "route",
            "status",
        )
        self.api_request_duration = Summary(
            "orders_api_request_duration_seconds",
            "Time to answer, by method and route.",
            ("method", "route"),
            registry=self.registry,
        )
        self.api_idempotency = counter(
            "orders_api_idempotency", "What the Idempotency-Key layer did with a POST.", "outcome"
        )
        self.api_webhooks = counter(
            "orders_api_webhooks", "The provider's webhooks: accepted, or a duplicate.", "outcome"
        )

        # Idempotence, across the system.
        self.duplicates = counter(
            "orders_duplicates_absorbed",
            "Repeated requests, commands, records and calls answered without doing the work again, by layer.",
            "layer",
        )
        self.key_reuse = counter(
            "orders_idempotency_key_reuse",
            "POSTs refused with 422: their Idempotency-Key was first used for another request.",
        )

        # Publishing and consuming.
        self.relay_lag_events = gauge(
            "orders_relay_lag_events", "Stored events the leading relay has not published yet.", "context"
        )
        self.relay_lag_seconds = gauge(
            "orders_relay_lag_seconds",
            "Age of the oldest stored event the leading relay has not published yet (0: caught up).",
            "context",
        )
        self.consumer_lag = gauge(
            "orders_consumer_lag_records",
            "Records of this consumer's partitions past its group's committed offsets.",
            "group",
        )
        self.dead_letters = counter(
            "orders_dead_letters", "Records set aside as dead letters, by consumer.", "consumer"
        )

        # The saga.
        self.saga_in_flight = gauge(
            "orders_saga_in_flight_orders",
            "Orders this saga process saw placed and not yet completed, cancelled or failed.",
        )
        self.saga_oldest_in_flight = gauge(
            "orders_saga_oldest_in_flight_seconds", "Age of the oldest of those orders (0: none)."
        )
        self.saga_deadline = gauge(
            "orders_saga_deadline_seconds", "How long an order has to ship before the saga fails it."
        )
        self.deadlines_fired = counter(
            "orders_saga_deadlines_fired",
            "Deadlines fired: the order failed, had made it in time, or had moved on.",
            "outcome",
        )

        # The gateway's calls to the payment provider and the carrier, by calling context.
        self.gateway_retries = counter(
            "orders_gateway_retries", "Calls to be asked again later: no answer yet.", "context"
        )
        self.gateway_unknown_outcomes = counter(
            "orders_gateway_unknown_outcomes",
            "Attempts whose outcome is unknown (timed out: perhaps done); a subset of the retries.",
            "context",
        )
        self.gateway_parked = counter(
            "orders_gateway_calls_parked", "Calls refused for good, parked for a person.", "context"
        )

        # Reconciliation (`orders reconcile`): what its last run left different, by kind.
        self.reconciliation_differences = gauge(
            "orders_reconciliation_differences",
            "Differences the last reconciliation found and did not repair, by kind.",
            "kind",
        )

        # Series that exist from the start, at 0, so that a rate or an alert sees their first change.
        for layer in LAYERS:
            self.duplicates.labels(layer=layer)
        for kind in RECONCILIATION_KINDS:
            self.reconciliation_differences.labels(kind=kind).set(0)

    def render(self) -> bytes:
        """Every family, in the Prometheus text format 0.0.4."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        """Serve `GET /metrics` on `port` from a daemon thread; OSError if the port is taken.
        On every interface, since Prometheus scrapes from another host or container: the
        metrics hold no ids and no secrets."""
        start_http_server(port, host, self.registry)

    def samples(self) -> "Samples":
        """Every sample of this registry now, as `scrape` reads another process's."""
        return _samples(self.registry.collect())

    def series(self) -> frozenset[str]:
        """The names of the series the system's own families expose (`orders_*`): a counter's
        `_total`, a summary's `_sum` and `_count`, a gauge's own name."""
        suffixes = {"counter": ("_total",), "summary": ("_sum", "_count"), "gauge": ("",)}
        return frozenset(
            f"{family.name}{suffix}"
            for family in self.registry.collect()
            if NAME.fullmatch(family.name)
            for suffix in suffixes[family.type]
        )


METRICS = Metrics(REGISTRY)

# One scrape: every sample's value by its name and its labels, sorted.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, timeout_s: float = 5.0) -> Samples:
    """What a process's `/metrics` at `url` says now: httpx.HTTPError when it does not answer,
    ValueError when what it answers is not metrics."""
    text = httpx.get(url, timeout=timeout_s).raise_for_status().text
    return _samples(text_string_to_metric_families(text))


def _samples(families: Iterable[Metric]) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


def absorbed(samples: Samples, layer: str) -> float:
    """The duplicates a scraped process absorbed at `layer`."""
    return samples.get(("orders_duplicates_absorbed_total", (("layer", layer),)), 0.0)
