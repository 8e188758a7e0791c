"""The demo's workload: what customers do. Everything after that is the system's job.

Customers restock nothing and drive nothing: the demo restocks the SKUs, places orders and
cancels some of them, through the orders and inventory applications, sending every command
twice (the Submitter). The relay, the saga and the projections, running as processes, do the
rest. The plans mix the paths the saga must handle:

  tok_ok                     approved; the order completes if stock and carrier allow
  tok_decline                declined; stock is released, the order fails
  tok_timeout_after_charge   the provider charges but the answer is lost; asked again, once charged
  "FAIL" in the address      the carrier refuses; the payment is voided, the stock released
  a cancellation             sent a little later, so it meets the order at any step
  more than the stock        the reservation is refused; the order fails
"""

import random
import uuid
from dataclasses import dataclass

from domain.inventory import RestockSku
from domain.money import Money
from domain.orders import CancelOrder, OrderLine, PlaceOrder, ShippingAddress
from services.bootstrap import System
from services.demo.submitter import Answer, Submitter

ADDRESS = ShippingAddress(
    name="Demo Customer", line1="1 Demo Street", city="Utrecht", postal_code="3511", country="NL"
)
REFUSED_ADDRESS = ShippingAddress(
    name="FAIL Demo Customer", line1="1 Nowhere Lane", city="Utrecht", postal_code="3511", country="NL"
)
CANCEL_LATER_BY = 12  # a cancellation is sent up to this many placements after its order


@dataclass(frozen=True)
class Plan:
    """One order of the scenario and what the customer does with it."""

    order_id: uuid.UUID
    lines: tuple[OrderLine, ...]
    token: str
    address: ShippingAddress
    cancel: bool


@dataclass(frozen=True)
class Action:
    kind: str  # "place" or "cancel"
    plan: Plan


def make_plans(run: str, count: int, skus: list[str], rng: random.Random) -> list[Plan]:
    plans = []
    for i in range(count):
        lines = tuple(
            OrderLine(sku, rng.randint(1, 3), Money(rng.randint(100, 5_000), "EUR"))
            for sku in rng.sample(skus, rng.randint(1, 3))
        )
        token = rng.choices(["tok_ok", "tok_decline", "tok_timeout_after_charge"], weights=[7, 2, 1])[0]
        address = REFUSED_ADDRESS if rng.random() < 0.05 else ADDRESS
        order_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/order/{i}")
        plans.append(Plan(order_id, lines, token, address, cancel=rng.random() < 0.15))
    return plans


def schedule(plans: list[Plan], rng: random.Random) -> list[Action]:
    """Placements in plan order, each cancellation a few placements after its order's."""
    slots: list[tuple[float, Action]] = []
    for i, plan in enumerate(plans):
        slots.append((i, Action("place", plan)))
        if plan.cancel:
            slots.append((i + rng.uniform(0.5, CANCEL_LATER_BY), Action("cancel", plan)))
    return [action for _, action in sorted(slots, key=lambda slot: slot[0])]


class Customers:
    def __init__(self, system: System, submitter: Submitter, run: str) -> None:
        self.system = system
        self.submit = submitter.submit
        self.run = run

    def restock(self, skus: list[str], quantity: int) -> None:
        for sku in skus:
            command = RestockSku(command_id=f"{self.run}:restock:{sku}", sku=sku, quantity=quantity)
            self.submit(self.system.inventory, command)

    def act(self, action: Action) -> Answer:
        plan, key = action.plan, str(action.plan.order_id)
        if action.kind == "cancel":
            cancel = CancelOrder(command_id=f"{key}:cancel", order_id=plan.order_id, reason="customer")
            return self.submit(self.system.orders, cancel)
        place = PlaceOrder(
            command_id=f"{key}:place",
            order_id=plan.order_id,
            customer_id="demo",
            shipping_address=plan.address,
            payment_token=plan.token,
            currency="EUR",
            lines=plan.lines,
        )
        return self.submit(self.system.orders, place)
