"""Invariants I1-I4 for the demo's orders, read from the event stores and the provider."""

from collections import Counter
from dataclasses import dataclass

from domain.errors import UnknownPaymentError
from domain.fulfillment import ShipmentStatus
from domain.orders import OrderStatus
from domain.payments import PaymentStatus
from services.bootstrap import System
from services.demo.scenario import DemoProvider, Plan


@dataclass(frozen=True)
class Check:
    invariant: str
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations


def check_all(system: System, provider: DemoProvider, plans: list[Plan], skus: list[str]) -> list[Check]:
    return [
        no_double_charge(system, provider, plans),
        stock_conserved(system, skus),
        all_terminal(system, plans),
        terminal_states_consistent(system, plans),
    ]


def no_double_charge(system: System, provider: DemoProvider, plans: list[Plan]) -> Check:
    authorized = Counter(key for key, _ in provider.operations("authorize"))
    bad = [f"payment key {key} authorized {n} times" for key, n in authorized.items() if n > 1]
    for plan in plans:
        order = system.orders.order(plan.order_id)
        try:
            net = system.payments.payment_of(plan.order_id).net_captured.cents
        except UnknownPaymentError:
            continue  # never reached payment (out of stock)
        if net not in (0, order.total.cents):
            bad.append(f"order {plan.order_id}: net captured {net}, total {order.total.cents}")
    return Check("I1 no double charge", bad)


def stock_conserved(system: System, skus: list[str]) -> Check:
    bad = []
    for sku in skus:
        item = system.inventory.stock_item(sku)
        if item.restocked != item.available + item.reserved + item.shipped or item.available < 0:
            bad.append(
                f"{sku}: restocked {item.restocked} != available {item.available} "
                f"+ reserved {item.reserved} + shipped {item.shipped}"
            )
    return Check("I2 stock conserved", bad)


def all_terminal(system: System, plans: list[Plan]) -> Check:
    bad = [
        f"order {p.order_id} is {system.orders.order(p.order_id).status}"
        for p in plans
        if not system.orders.order(p.order_id).is_terminal
    ]
    return Check("I3 every order terminal", bad)


def terminal_states_consistent(system: System, plans: list[Plan]) -> Check:
    bad = []
    for plan in plans:
        order = system.orders.order(plan.order_id)
        held = [
            line.sku
            for line in plan.lines
            if str(plan.order_id) in system.inventory.stock_item(line.sku).reservations
        ]
        if order.status is OrderStatus.COMPLETED:
            payment = system.payments.payment_of(plan.order_id)
            shipment = system.fulfillment.shipment_of(plan.order_id)
            if payment.status is not PaymentStatus.CAPTURED or shipment.status is not ShipmentStatus.SHIPPED:
                bad.append(
                    f"order {plan.order_id} completed: payment {payment.status}, shipment {shipment.status}"
                )
        elif held:
            bad.append(f"order {plan.order_id} is {order.status} but still holds {held}")
    return Check("I4 terminal states consistent", bad)
