"""An in-memory world for saga tests: the four contexts, the fakes at their edges (payment
provider, carrier, deadline store), the saga, and the pump that drives it."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

from support.product import PRODUCT

from domain.errors import UnknownShipmentError
from domain.fulfillment import Shipment, ShipmentStatus
from domain.inventory import RestockSku, StockItem
from domain.money import Money
from domain.orders import Order, OrderLine, PlaceOrder, ShippingAddress
from domain.payments import Payment
from infrastructure.contracts import IntegrationEvent
from infrastructure.deadlines import InMemoryDeadlineStore
from infrastructure.gateways.carrier import InMemoryCarrier
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.context import Registry
from services.saga import OrderSaga, Pump

from .scenario import unique

UNIT_PRICE = Money(1250, "EUR")
Handle = Callable[[IntegrationEvent], None]


@dataclass
class World:
    system: System
    provider: InMemoryPaymentProvider
    carrier: InMemoryCarrier
    deadlines: InMemoryDeadlineStore
    saga: OrderSaga
    pump: Pump

    def restock(self, sku: str, quantity: int) -> None:
        self.system.inventory.execute(RestockSku(command_id=unique("restock"), sku=sku, quantity=quantity))

    def place(self, lines: dict[str, int], token: str = "tok_ok", name: str = "Ada Lovelace") -> UUID:
        order_id = uuid4()
        address = ShippingAddress(
            name=name, line1="1 Main Street", city="Utrecht", postal_code="3511", country="NL"
        )
        command = PlaceOrder(
            command_id=unique("place"),
            order_id=order_id,
            customer_id="customer-1",
            currency="EUR",
            lines=tuple(OrderLine(sku, quantity, UNIT_PRICE) for sku, quantity in lines.items()),
            shipping_address=address,
            payment_token=token,
        )
        self.system.orders.execute(command)
        return order_id

    def order(self, order_id: UUID) -> Order:
        return self.system.orders.order(order_id)

    def payment(self, order_id: UUID) -> Payment:
        return self.system.payments.payment_of(order_id)

    def shipment(self, order_id: UUID) -> Shipment:
        return self.system.fulfillment.shipment_of(order_id)

    def shipment_status(self, order_id: UUID) -> ShipmentStatus | None:
        try:
            return self.shipment(order_id).status
        except UnknownShipmentError:
            return None

    def stock(self, sku: str) -> StockItem:
        return self.system.inventory.stock_item(sku)

    def stored_events(self) -> dict[str, Counter[str]]:
        """Per context, how many events of each type the event store holds."""
        return {
            name: Counter(n.topic for n in app.recorder.select_notifications(1, 1_000_000))
            for name, app in self.system.apps.items()
        }

    def commands_recorded(self) -> dict[str, int]:
        """Per context, how many commands its log holds: a redelivery answered from the log adds
        none. (The in-memory recorder keeps them in `_commands`; in PostgreSQL, a table.)"""
        recorders = {name: app.recorder for name, app in self.system.apps.items()}
        return {name: len(recorder._commands) for name, recorder in recorders.items()}  # type: ignore[attr-defined]

    def close(self) -> None:
        self.system.close()


def make_world(
    redeliver: Callable[[Handle], Handle] = lambda handle: handle,
    provider: InMemoryPaymentProvider | None = None,
    complete_within: timedelta = timedelta(seconds=120),
    registry: Registry = PRODUCT,
) -> World:
    """`redeliver` wraps the saga's handler as the pump sees it (to duplicate, reorder...);
    `registry`, the contexts to build (the product's four by default, `tests/support/product.py`)."""
    provider = provider or InMemoryPaymentProvider()
    carrier, deadlines = InMemoryCarrier(), InMemoryDeadlineStore()
    system = build(Settings(database_url=None), provider=provider, carrier=carrier, registry=registry)
    saga = OrderSaga(system, deadlines, complete_within)
    return World(system, provider, carrier, deadlines, saga, Pump(system, redeliver(saga.handle)))
