"""Order flows driven through the real context applications, as the saga drives them: each
flow leaves events in all four notification logs for the projections to consume. The calls
to the provider and the carrier that the commands decide are performed at once, in process,
by the system's gateways."""

import uuid

from domain.fulfillment import HandOverShipment, RequestShipment
from domain.inventory import ReleaseStock, ReserveStock, RestockSku, ShipStock
from domain.money import Money
from domain.orders import (
    AdvanceOrder,
    CancelOrder,
    FailOrder,
    OrderLine,
    OrderStatus,
    PlaceOrder,
    RecordCompensation,
    ShippingAddress,
)
from domain.payments import AuthorizePayment, CapturePayment, RefundPayment, VoidPayment
from domain.privacy import Sealed, owner_of, seal_json
from services.bootstrap import System
from services.saga.pump import AT_ONCE

ADDRESS = ShippingAddress(
    name="Test Customer", line1="1 Test Lane", city="Delft", postal_code="2611", country="NL"
)
PRICE = Money(1250, "EUR")
OWNER = owner_of("", "customer-1")


def sealed_token(system: System, token: str = "tok_ok") -> Sealed:
    """A card token sealed as an order seals it, for commands sent without an order."""
    return system.vault.seal(OWNER, token)


def sealed_address(system: System, address: ShippingAddress = ADDRESS) -> Sealed:
    """An address sealed as an order seals it, for commands sent without an order."""
    return seal_json(system.vault, OWNER, vars(address))


def place_order(system: System, sku: str = "SKU-1", quantity: int = 1, token: str = "tok_ok") -> uuid.UUID:
    """Place one order of `quantity` units of `sku` at PRICE each; the saga, if running, takes it on."""
    order_id = uuid.uuid4()
    system.orders.execute(
        PlaceOrder(
            command_id=f"place-{order_id}",
            order_id=order_id,
            customer_id="customer-1",
            currency="EUR",
            lines=(OrderLine(sku, quantity, PRICE),),
            shipping_address=ADDRESS,
            payment_token=token,
        )
    )
    return order_id


class OrderFlows:
    def __init__(self, system: System) -> None:
        self.system = system
        self.gateways = system.gateways(AT_ONCE)

    def restock(self, sku: str, quantity: int, tenant_id: str = "") -> None:
        command = RestockSku(command_id=str(uuid.uuid4()), sku=sku, quantity=quantity, tenant_id=tenant_id)
        self.system.inventory.execute(command)

    def completed(self, *lines: tuple[str, int], refund_cents: int = 0) -> uuid.UUID:
        """Placed, reserved, paid, shipped, captured and completed; optionally part refunded."""
        order_id = self._reserved_and_paid(lines, "tok_ok")
        destination = self.system.orders.order(order_id).shipping_address
        request = RequestShipment(
            command_id=f"{order_id}:request", order_id=order_id, destination=destination
        )
        self._run(self.system.fulfillment, request)
        self._advance(order_id, OrderStatus.FULFILLING)
        tracking = str(self.system.fulfillment.shipment_of(order_id).tracking_id)
        self._advance(order_id, OrderStatus.SHIPPED, tracking)
        skus = tuple(sku for sku, _ in lines)
        self._run(
            self.system.inventory, ShipStock(command_id=f"{order_id}:ship", order_id=order_id, skus=skus)
        )
        self._run(self.system.payments, CapturePayment(command_id=f"{order_id}:capture", order_id=order_id))
        self._run(
            self.system.fulfillment, HandOverShipment(command_id=f"{order_id}:handover", order_id=order_id)
        )
        self._advance(order_id, OrderStatus.COMPLETED)
        if refund_cents:
            refund = RefundPayment(
                command_id=f"{order_id}:refund", order_id=order_id, amount=Money(refund_cents, "EUR")
            )
            self._run(self.system.payments, refund)
        return order_id

    def declined(self, *lines: tuple[str, int]) -> uuid.UUID:
        """The provider declines: the order fails and its stock is released."""
        order_id = self._reserved_and_paid(lines, "tok_decline")
        self._stop(
            order_id, FailOrder(command_id=f"{order_id}:fail", order_id=order_id, reason="declined"), lines
        )
        return order_id

    def cancelled(self, *lines: tuple[str, int]) -> uuid.UUID:
        """Paid, then cancelled: the payment is voided and the stock released."""
        order_id = self._reserved_and_paid(lines, "tok_ok")
        self._run(self.system.payments, VoidPayment(command_id=f"{order_id}:void", order_id=order_id))
        self._stop(
            order_id,
            CancelOrder(command_id=f"{order_id}:cancel", order_id=order_id, reason="customer"),
            lines,
        )
        return order_id

    def _reserved_and_paid(self, lines: tuple[tuple[str, int], ...], token: str) -> uuid.UUID:
        order_id = uuid.uuid4()
        order_lines = tuple(OrderLine(sku, quantity, Money(250, "EUR")) for sku, quantity in lines)
        self._run(
            self.system.orders,
            PlaceOrder(
                command_id=f"{order_id}:place",
                order_id=order_id,
                customer_id="c-1",
                currency="EUR",
                lines=order_lines,
                shipping_address=ADDRESS,
                payment_token=token,
            ),
        )
        self._run(
            self.system.inventory,
            ReserveStock(command_id=f"{order_id}:reserve", order_id=order_id, lines=lines),
        )
        self._advance(order_id, OrderStatus.RESERVED)
        total = sum((line.subtotal for line in order_lines), Money.zero("EUR"))
        self._run(
            self.system.payments,
            AuthorizePayment(
                command_id=f"{order_id}:authorize",
                order_id=order_id,
                amount=total,
                token=self.system.orders.order(order_id).payment_token,
            ),
        )
        if self.system.payments.payment_of(order_id).status == "authorized":
            self._advance(order_id, OrderStatus.PAID)
        return order_id

    def _stop(
        self, order_id: uuid.UUID, stop: FailOrder | CancelOrder, lines: tuple[tuple[str, int], ...]
    ) -> None:
        self._run(self.system.orders, stop)
        skus = tuple(sku for sku, _ in lines)
        self._run(
            self.system.inventory,
            ReleaseStock(command_id=f"{order_id}:release", order_id=order_id, skus=skus),
        )
        step = RecordCompensation(
            command_id=f"{order_id}:compensated", order_id=order_id, step="stock_released"
        )
        self._run(self.system.orders, step)

    def _advance(self, order_id: uuid.UUID, step: OrderStatus, tracking_id: str = "") -> None:
        command = AdvanceOrder(
            command_id=f"{order_id}:{step}", order_id=order_id, step=step, tracking_id=tracking_id
        )
        self._run(self.system.orders, command)

    def _run(self, app: object, command: object) -> dict[str, object]:
        """Execute the command, then perform the calls it decided and record their answers."""
        result: dict[str, object] = app.execute(command).result  # type: ignore[attr-defined]
        while sum(gateway.perform_due() for gateway in self.gateways):
            pass
        return result
