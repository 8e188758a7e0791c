"""The demo's workload: what customers do. Everything after that is the system's job.

Customers restock the SKUs, place orders and cancel some of them, over the HTTP API. The
relay, the saga, the projectors and the simulated provider and carrier, running as
processes, do the rest. The plans use every test token of the provider simulator and the
carrier's refusal, so the saga meets every path:

  tok_ok                     approved; the order completes if stock and carrier allow
  tok_decline                declined; stock is released, the order fails
  tok_error_before_charge    a 5xx first, nothing charged; the gateway retries and is approved
  tok_timeout_after_charge   charged, but the answer is lost; asked again, charged once
  tok_slow                   approved after a pause
  "FAIL" in the address      the carrier refuses; the payment is voided, the stock released
  a cancellation             sent a little later, so it meets the order at any step
  more than the stock        the reservation is refused; the order fails
"""

import json
import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from domain.money import Money
from domain.orders import OrderLine, ShippingAddress
from services.ops.demo.submitter import Answer, Submitter

ADDRESS = ShippingAddress(
    name="Demo Customer", line1="1 Demo Street", city="Utrecht", postal_code="3511", country="NL"
)
REFUSED_ADDRESS = ShippingAddress(
    name="FAIL Demo Customer", line1="1 Nowhere Lane", city="Utrecht", postal_code="3511", country="NL"
)
TOKENS = ["tok_ok", "tok_decline", "tok_error_before_charge", "tok_timeout_after_charge", "tok_slow"]
TOKEN_WEIGHTS = [70, 15, 6, 5, 4]
FIRST_CALL_FAILS = (
    "tok_error_before_charge",
    "tok_timeout_after_charge",
)  # a lost answer or a slow one holds the saga for a moment
CANCEL_LATER_BY = 12  # a cancellation is sent up to this many placements after its order


@dataclass(frozen=True)
class Plan:
    """One order of the scenario and what the customer does with it."""

    key: str  # the placement's Idempotency-Key; the API derives the order id from it
    lines: tuple[OrderLine, ...]
    token: str
    address: ShippingAddress
    cancel: bool


@dataclass(frozen=True)
class Action:
    kind: str  # "place" or "cancel"
    plan: Plan


def make_plans(run: str, count: int, skus: list[str], rng: random.Random, first: int = 0) -> list[Plan]:
    """`count` orders, numbered from `first` (a workload without end makes them in chunks)."""
    plans = []
    for i in range(first, first + count):
        lines = tuple(
            OrderLine(sku, rng.randint(1, 3), Money(rng.randint(100, 5_000), "EUR"))
            for sku in rng.sample(skus, rng.randint(1, 3))
        )
        token = rng.choices(TOKENS, weights=TOKEN_WEIGHTS)[0]
        address = REFUSED_ADDRESS if rng.random() < 0.05 else ADDRESS
        plans.append(Plan(f"{run}:order:{i}", lines, token, address, cancel=rng.random() < 0.15))
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
    """The customers, at the HTTP API: each restock, placement and cancellation is a POST
    with an Idempotency-Key, sent twice by the Submitter."""

    def __init__(self, submitter: Submitter, run: str) -> None:
        self.post = submitter.post
        self.run = run
        self.order_ids: dict[str, uuid.UUID] = {}  # plan key -> the order the API placed
        self._placed: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def restock(self, skus: list[str], quantity: int) -> None:
        for sku in skus:
            self._expect(
                self.post(f"/v1/inventory/{sku}/restock", f"{self.run}:restock:{sku}", {"quantity": quantity})
            )

    def act(self, action: Action) -> int:
        """Send one action; return the status it was answered with."""
        plan = action.plan
        if action.kind == "cancel":
            self._placement(plan.key).wait()  # the cancellation names the order placed
            order_id = self.order_ids[plan.key]
            answer = self.post(f"/v1/orders/{order_id}/cancel", f"{plan.key}:cancel", {"reason": "customer"})
            return answer[0]  # 200, or 409 when the order had moved past cancelling
        status, body = self._expect(self.post("/v1/orders", plan.key, _order_body(plan)))
        self.order_ids[plan.key] = uuid.UUID(json.loads(body)["order_id"])
        self._placement(plan.key).set()
        return status

    def _placement(self, key: str) -> threading.Event:
        with self._lock:
            return self._placed.setdefault(key, threading.Event())

    @staticmethod
    def _expect(answer: Answer) -> Answer:
        if answer[0] >= 300:
            raise UnexpectedAnswerError(f"HTTP {answer[0]}: {answer[1].decode(errors='replace')}")
        return answer


class UnexpectedAnswerError(RuntimeError):
    """The API refused what the scenario expects it to accept."""


def _order_body(plan: Plan) -> dict[str, Any]:
    return {
        "customer_id": "demo",
        "currency": "EUR",
        "lines": [
            {"sku": line.sku, "quantity": line.quantity, "unit_price_cents": line.unit_price.cents}
            for line in plan.lines
        ],
        "shipping_address": {
            "name": plan.address.name,
            "line1": plan.address.line1,
            "city": plan.address.city,
            "postal_code": plan.address.postal_code,
            "country": plan.address.country,
        },
        "payment": {"token": plan.token},
    }
