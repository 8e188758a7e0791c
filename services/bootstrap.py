"""The composition root: the one place that wires infrastructure into the services.

Nothing connects at import time; `build(settings)` constructs every application from one
settings object, and `System.close()` releases their connection pools.
"""

from dataclasses import dataclass

from domain.ports import Carrier, PaymentProvider
from domain.privacy import Vault
from infrastructure.carrier import InMemoryCarrier
from infrastructure.database import ensure_schema
from infrastructure.gateways import HttpCarrier, HttpPaymentProvider, RetryPolicy
from infrastructure.ledger_provider import LedgerPaymentProvider
from infrastructure.payment_provider import InMemoryPaymentProvider
from infrastructure.settings import Settings
from infrastructure.vault import memory_vault, postgres_vault
from services.fulfillment import FulfillmentService
from services.gateway import Gateway, GatewayOptions
from services.inventory import InventoryService
from services.orders import OrdersService
from services.payments import PaymentsService


@dataclass
class System:
    orders: OrdersService
    inventory: InventoryService
    payments: PaymentsService
    fulfillment: FulfillmentService
    vault: Vault  # the customers' keys, which seal their personal data (domain/privacy.py)

    @property
    def contexts(self) -> tuple[OrdersService | InventoryService | PaymentsService | FulfillmentService, ...]:
        return (self.orders, self.inventory, self.payments, self.fulfillment)

    @property
    def calling(self) -> tuple[PaymentsService | FulfillmentService, ...]:
        """The contexts whose commands call outside parties, through gateway workers."""
        return (self.payments, self.fulfillment)

    def gateways(self, options: GatewayOptions | None = None) -> list[Gateway]:
        return [Gateway(app, app.calls, options) for app in self.calling]

    def close(self) -> None:
        for app in self.contexts:
            app.close()
        getattr(self.vault, "close", lambda: None)()


def build(
    settings: Settings,
    provider: PaymentProvider | None = None,
    carrier: Carrier | None = None,
    vault: Vault | None = None,
) -> System:
    """Construct the four contexts, creating their tables (and schema) if needed.

    The provider and the carrier default to in-process fakes that keep their own keys; the
    vault, to the customers' keys in the same database (or memory)."""
    ensure_schema(settings)
    env = settings.persistence_env()
    inventory = InventoryService(env=env)
    if vault is None:
        vault = postgres_vault(settings, inventory.mapper.cipher) if settings.database_url else memory_vault()
    return System(
        orders=OrdersService(is_known_sku=inventory.is_known_sku, vault=vault, env=env),
        inventory=inventory,
        payments=PaymentsService(provider=provider or InMemoryPaymentProvider(), vault=vault, env=env),
        fulfillment=FulfillmentService(carrier=carrier or InMemoryCarrier(), vault=vault, env=env),
        vault=vault,
    )


def edges(settings: Settings) -> tuple[PaymentProvider, Carrier]:
    """The payment provider and carrier the gateway workers call.

    With their URLs set (`orders run` sets them), the simulators over HTTP: every call then
    crosses a network that can lose it, so the gateway meets the timeouts, retries and
    unknown outcomes a real provider and carrier bring. Each client makes one attempt per
    call it is given: the gateway keeps the schedule of further attempts in the call table,
    where a backoff holds no thread and survives a restart. Without URLs, for a run on its
    own, the provider's ledger called in process and an in-memory carrier. Both providers
    write one ledger (PostgreSQL schema "psp"), where `orders check` reads what was charged."""
    policy = RetryPolicy.from_settings(settings)
    provider: PaymentProvider = (
        HttpPaymentProvider(settings.psp_url, policy) if settings.psp_url else LedgerPaymentProvider(settings)
    )
    carrier: Carrier = (
        HttpCarrier(settings.carrier_url, policy) if settings.carrier_url else InMemoryCarrier()
    )
    return provider, carrier
