"""The composition root: the one place that wires infrastructure into the services.

Nothing connects at import time; `build(settings)` constructs one application per context
of the registry (`services/registry.py`, which declares the set of contexts) from one
settings object, and `System.close()` releases their connection pools.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from domain.ports import Carrier, PaymentProvider
from domain.privacy import Vault
from infrastructure.calls import PostgresAttemptLog
from infrastructure.database import ensure_schema
from infrastructure.gateways import RetryPolicy
from infrastructure.gateways.carrier import HttpCarrier, InMemoryCarrier
from infrastructure.gateways.payments import (
    HttpPaymentProvider,
    InMemoryPaymentProvider,
    LedgerPaymentProvider,
)
from infrastructure.logs import RequestLogging as RequestLogging  # the HTTP servers' access lines
from infrastructure.metrics import METRICS
from infrastructure.metrics import Metrics as Metrics  # the services' way to name the type
from infrastructure.metrics import Samples as Samples
from infrastructure.metrics import scrape as scrape  # another process's metrics, as `Metrics.samples`
from infrastructure.settings import Settings
from infrastructure.vault import memory_vault, postgres_vault
from services.context import ContextApplication, Registry, Wiring
from services.contexts.fulfillment.service import FulfillmentService
from services.contexts.inventory.service import InventoryService
from services.contexts.orders.service import OrdersService
from services.contexts.payments.service import PaymentsService
from services.gateway import Gateway, GatewayOptions, Tally
from services.registry import REGISTRY

A = TypeVar("A", bound=ContextApplication)


@dataclass
class System:
    """One application per context of `registry`, by context name: `system.orders` (or
    `system.app("orders")`) is the orders context's application."""

    registry: Registry
    apps: Mapping[str, ContextApplication]  # by context name, in the registry's order
    vault: Vault  # the customers' keys, which seal their personal data (domain/privacy.py)
    metrics: Metrics = field(default_factory=lambda: METRICS)  # what the services count into

    def __getattr__(self, name: str) -> Any:
        apps = self.__dict__.get("apps", {})
        if name in apps:
            return apps[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or context {name!r}")

    def app(self, name: str) -> ContextApplication:
        return self.apps[name]

    # Typed access to the contexts the services name in their code (the saga, the API, the
    # check); any other context of the registry is reached by name, as above.
    @property
    def orders(self) -> OrdersService:
        return self._typed("orders", OrdersService)

    @property
    def inventory(self) -> InventoryService:
        return self._typed("inventory", InventoryService)

    @property
    def payments(self) -> PaymentsService:
        return self._typed("payments", PaymentsService)

    @property
    def fulfillment(self) -> FulfillmentService:
        return self._typed("fulfillment", FulfillmentService)

    def _typed(self, name: str, kind: type[A]) -> A:
        app = self.apps[name]
        assert isinstance(app, kind), f"the {name} context's application is a {type(app).__name__}"
        return app

    @property
    def contexts(self) -> tuple[ContextApplication, ...]:
        return tuple(self.apps.values())

    @property
    def calling(self) -> tuple[Any, ...]:
        """The contexts whose commands call outside parties, through gateway workers (each
        application is a `services.gateway.CallingContext`, which the registry checks)."""
        return tuple(self.apps[context.name] for context in self.registry.calling)

    def gateways(self, options: GatewayOptions | None = None) -> list[Gateway]:
        named = zip(self.registry.calling, self.calling, strict=True)
        return [Gateway(app, app.calls, options, self._tally(context.name)) for context, app in named]

    def _tally(self, context: str) -> Tally:
        metrics = self.metrics
        return Tally(
            retried=metrics.gateway_retries.labels(context=context).inc,
            unknown=metrics.gateway_unknown_outcomes.labels(context=context).inc,
            parked=metrics.gateway_parked.labels(context=context).inc,
        )

    def close(self) -> None:
        for app in self.contexts:
            app.close()
        getattr(self.vault, "close", lambda: None)()


def build(
    settings: Settings,
    provider: PaymentProvider | None = None,
    carrier: Carrier | None = None,
    vault: Vault | None = None,
    registry: Registry = REGISTRY,
    metrics: Metrics | None = None,
) -> System:
    """Construct every context of the registry, creating their tables (and schema) if needed.

    The provider and the carrier default to in-process fakes that keep their own keys; the
    vault, to the customers' keys in the same database (or memory), sealed at rest with the
    cipher of the first context built; the metrics, to the process's (a test passes its own
    `Metrics()` to count from zero). Each application counts the commands its log answers."""
    ensure_schema(settings)

    def make_vault(cipher: Any) -> Vault:
        if vault is not None:
            return vault
        return postgres_vault(settings, cipher) if settings.database_url else memory_vault()

    wiring = Wiring(
        settings.persistence_env(),
        provider or InMemoryPaymentProvider(),
        carrier or InMemoryCarrier(),
        make_vault,
    )
    apps = registry.build(wiring)
    counted = metrics or METRICS
    for app in apps.values():
        app.count_replays(counted.duplicates.labels(layer="command_log").inc)
    return System(registry, apps, wiring.vault, counted)


def edges(settings: Settings) -> tuple[PaymentProvider, Carrier]:
    """The payment provider and carrier the gateway workers call.

    With their URLs set (`orders run` sets them), the simulators over HTTP: every call then
    crosses a network that can lose it, so the gateway meets the timeouts, retries and
    unknown outcomes a real provider and carrier bring. Each client makes one attempt per
    call it is given: the gateway keeps the schedule of further attempts in the call table,
    where a backoff holds no thread and survives a restart. Without URLs, for a run on its
    own, the provider's ledger called in process and an in-memory carrier. Both providers
    write one ledger (PostgreSQL schema "psp"), where `orders check` reads what was charged.
    Over HTTP on a database, every attempt is recorded (`call_attempts`, for `orders trace`)."""
    policy = RetryPolicy.from_settings(settings)
    over_http = settings.database_url and (settings.psp_url or settings.carrier_url)
    attempts = PostgresAttemptLog(settings) if over_http else None
    provider: PaymentProvider = (
        HttpPaymentProvider(settings.psp_url, policy, attempts=attempts)
        if settings.psp_url
        else LedgerPaymentProvider(settings)
    )
    carrier: Carrier = (
        HttpCarrier(settings.carrier_url, policy, attempts=attempts)
        if settings.carrier_url
        else InMemoryCarrier()
    )
    return provider, carrier
