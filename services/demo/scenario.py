"""The demo's order flow: what the saga will do, driven synchronously here.

Each order takes the happy path, or is declined, cancelled by the customer, or runs out of
stock, and every command along the way is submitted more than once.
"""

import random
import uuid
from dataclasses import dataclass
from typing import Protocol

from domain.fulfillment import RecordShipmentShipped, RequestShipment
from domain.ids import payment_id
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
from domain.payments import AuthorizePayment, CapturePayment, VoidPayment
from domain.ports import PaymentProvider
from services.bootstrap import System
from services.demo.submitter import Submitter
from services.payments import PaymentOutcomeUnknownError


class DemoProvider(PaymentProvider, Protocol):
    """A provider the demo can make time out after charging, and whose ledger it can read."""

    timeouts_after_charge: set[str]

    def operations(self, operation: str) -> list[tuple[str, int]]: ...


ADDRESS = ShippingAddress(
    name="Demo Customer", line1="1 Demo Street", city="Utrecht", postal_code="3511", country="NL"
)


@dataclass(frozen=True)
class Plan:
    """One order of the scenario: its lines and what will happen to it."""

    order_id: uuid.UUID
    lines: tuple[OrderLine, ...]
    token: str
    cancel: bool
    timeout_after_charge: bool


def make_plans(run: str, count: int, skus: list[str], rng: random.Random) -> list[Plan]:
    plans = []
    for i in range(count):
        picked = rng.sample(skus, rng.randint(1, 3))
        lines = tuple(
            OrderLine(sku, rng.randint(1, 4), Money(rng.randint(100, 5_000), "EUR")) for sku in picked
        )
        plans.append(
            Plan(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/order/{i}"),
                lines,
                token="tok_decline" if i % 5 == 4 else "tok_ok",
                cancel=i % 7 == 3,
                timeout_after_charge=i % 6 == 1,
            )
        )
    return plans


class Scenario:
    def __init__(self, system: System, provider: DemoProvider, submitter: Submitter) -> None:
        self.system = system
        self.provider = provider
        self.submit = submitter.submit

    def restock(self, run: str, skus: list[str], quantity: int) -> None:
        for sku in skus:
            self.submit(
                self.system.inventory,
                RestockSku(command_id=f"{run}:restock:{sku}", sku=sku, quantity=quantity),
            )

    def run(self, plan: Plan) -> str:
        """Take one order to a terminal state; return how it ended."""
        key = str(plan.order_id)
        orders, inventory = self.system.orders, self.system.inventory
        self.submit(
            orders,
            PlaceOrder(
                command_id=f"{key}:place",
                order_id=plan.order_id,
                customer_id="demo",
                shipping_address=ADDRESS,
                payment_token=plan.token,
                currency="EUR",
                lines=plan.lines,
            ),
        )
        lines = tuple((line.sku, line.quantity) for line in plan.lines)
        if (
            self.submit(
                inventory, ReserveStock(command_id=f"{key}:reserve", order_id=plan.order_id, lines=lines)
            )[0]
            == "error"
        ):
            self.submit(
                orders, FailOrder(command_id=f"{key}:fail", order_id=plan.order_id, reason="out of stock")
            )
            return "failed: out of stock"
        self._advance(plan, OrderStatus.RESERVED)
        if plan.timeout_after_charge:
            self.provider.timeouts_after_charge.add(f"{payment_id(plan.order_id)}:authorize")
        total = sum((line.subtotal for line in plan.lines), Money.zero("EUR"))
        _, payment = self.submit(
            self.system.payments,
            AuthorizePayment(
                command_id=f"{key}:authorize", order_id=plan.order_id, amount=total, token=plan.token
            ),
            retry_on=(PaymentOutcomeUnknownError,),
        )
        if payment["status"] == "declined":
            return self._stop(
                plan, FailOrder(command_id=f"{key}:fail", order_id=plan.order_id, reason="declined")
            )
        self._advance(plan, OrderStatus.PAID)
        if plan.cancel:
            self.submit(self.system.payments, VoidPayment(command_id=f"{key}:void", order_id=plan.order_id))
            return self._stop(
                plan,
                CancelOrder(command_id=f"{key}:cancel", order_id=plan.order_id, reason="customer"),
                "payment_voided",
            )
        return self._fulfil(plan, tuple(sku for sku, _ in lines))

    def _fulfil(self, plan: Plan, skus: tuple[str, ...]) -> str:
        key, fulfillment = str(plan.order_id), self.system.fulfillment
        self.submit(
            fulfillment,
            RequestShipment(
                command_id=f"{key}:ship-request", order_id=plan.order_id, destination=str(ADDRESS)
            ),
        )
        self._advance(plan, OrderStatus.FULFILLING)
        tracking = f"TRK-{key[:8]}"
        self.submit(
            fulfillment,
            RecordShipmentShipped(command_id=f"{key}:shipped", order_id=plan.order_id, tracking_id=tracking),
        )
        self.submit(
            self.system.inventory,
            ShipStock(command_id=f"{key}:ship-stock", order_id=plan.order_id, skus=skus),
        )
        self.submit(self.system.payments, CapturePayment(command_id=f"{key}:capture", order_id=plan.order_id))
        self._advance(plan, OrderStatus.SHIPPED, tracking)
        self._advance(plan, OrderStatus.COMPLETED)
        return "completed"

    def _stop(self, plan: Plan, stop: FailOrder | CancelOrder, *done: str) -> str:
        """Stop the order, then compensate in reverse: give the stock back."""
        key = str(plan.order_id)
        self.submit(self.system.orders, stop)
        skus = tuple(line.sku for line in plan.lines)
        self.submit(
            self.system.inventory,
            ReleaseStock(command_id=f"{key}:release", order_id=plan.order_id, skus=skus),
        )
        for step in (*done, "stock_released"):
            self.submit(
                self.system.orders,
                RecordCompensation(command_id=f"{key}:compensated:{step}", order_id=plan.order_id, step=step),
            )
        return "cancelled" if isinstance(stop, CancelOrder) else f"failed: {stop.reason}"

    def _advance(self, plan: Plan, step: OrderStatus, tracking_id: str = "") -> None:
        self.submit(
            self.system.orders,
            AdvanceOrder(
                command_id=f"{plan.order_id}:{step}",
                order_id=plan.order_id,
                step=step,
                tracking_id=tracking_id,
            ),
        )
