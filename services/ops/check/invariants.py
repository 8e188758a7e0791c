"""Invariants I1-I6 (listed in the README), each a function of what the stores hold.

The aggregates are folded from the event stores through the context applications, the
provider's charges come from its own ledger, the projections are compared with a fresh
fold of the event store, and publication is checked against the records on the topics.
Every violation names the ids involved, so it can be looked up.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from domain.fulfillment import Shipment, ShipmentStatus
from domain.ids import payment_id, shipment_id
from domain.inventory import StockItem
from domain.orders import Order, OrderStatus
from domain.payments import Payment, PaymentStatus
from infrastructure.database import connect
from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS
from projections.rebuild import rebuild_from_events
from services.bootstrap import System
from services.ops.check import store
from services.ops.check.quiescence import expected, unpublished
from services.ops.check.report import Finding
from services.ops.check.store import CarrierBooking, ProviderOperation
from services.ops.check.topics import TopicScanner

STOPPED = (OrderStatus.CANCELLED, OrderStatus.FAILED)


@dataclass(frozen=True)
class Holdings:
    """Everything the stores say, folded once for all the invariants."""

    orders: Sequence[Order]
    payments: Mapping[UUID, Payment]  # by order id
    shipments: Mapping[UUID, Shipment]  # by order id
    stock: Sequence[StockItem]
    provider: Sequence[ProviderOperation] | None  # None: no shared provider ledger here
    bookings: Mapping[str, CarrierBooking] | None  # the carrier's, by booking key; None: no shared ledger

    def provider_net(self, order_id: UUID) -> int:
        return _net(self._operations_by_payment.get(str(payment_id(order_id)), []))

    def provider_authorizations(self, order_id: UUID) -> int:
        operations = self._operations_by_payment.get(str(payment_id(order_id)), [])
        return sum(1 for op in operations if op.operation == "authorize" and op.status == "approved")

    def parcel(self, order_id: UUID) -> str | None:
        """The state of the order's parcel at the carrier ("none" if it booked nothing), or
        None where no carrier ledger can be read."""
        if self.bookings is None:
            return None
        booking = self.bookings.get(f"{shipment_id(order_id)}:book")
        return booking.state if booking else "none"

    def held(self, order_id: UUID) -> list[str]:
        return [_named(item) for item in self.stock if str(order_id) in item.reservations]

    @cached_property
    def _operations_by_payment(self) -> dict[str, list[ProviderOperation]]:
        grouped: dict[str, list[ProviderOperation]] = defaultdict(list)
        for op in self.provider or ():
            grouped[op.payment_id].append(op)
        return grouped


def check_all(
    settings: Settings, system: System, tables: Mapping[str, str], scanner: TopicScanner
) -> list[Finding]:
    holdings = fold(settings, system, tables)
    return [
        no_double_charge(holdings),
        stock_conserved(holdings),
        every_order_terminal(holdings),
        terminal_states_consistent(holdings),
        projections_equal_fresh_fold(settings, system),
        published_and_applied(settings, tables, scanner),
    ]


def fold(settings: Settings, system: System, tables: Mapping[str, str]) -> Holdings:
    with connect(settings) as conn:
        ids = {context: list(store.max_versions(conn, table)) for context, table in tables.items()}
        provider = store.provider_operations(conn)
        bookings = store.carrier_bookings(conn)
    orders: list[Order] = [system.orders.repository.get(i) for i in ids["orders"]]
    payments: list[Payment] = [system.payments.repository.get(i) for i in ids["payments"]]
    shipments: list[Shipment] = [system.fulfillment.repository.get(i) for i in ids["fulfillment"]]
    ours = {str(payment_id(order.id)) for order in orders}  # the provider serves other systems too
    if provider is not None:
        provider = [op for op in provider if op.payment_id in ours]
    return Holdings(
        orders=orders,
        payments={UUID(str(p.order_id)): p for p in payments},
        shipments={UUID(str(s.order_id)): s for s in shipments},
        stock=[system.inventory.repository.get(i) for i in ids["inventory"]],
        provider=provider,
        bookings=bookings,
    )


def no_double_charge(h: Holdings) -> Finding:
    """I1: per order, net captured at the provider is 0 or the total; at most one
    successful authorization per payment. The payments store must agree with the provider."""
    bad = []
    for order in h.orders:
        total, payment = order.total.cents, h.payments.get(order.id)
        stored = payment.net_captured.cents if payment else 0
        if stored not in (0, total):
            bad.append(f"order {order.id}: payments store captured {stored} net, total {total}")
        if h.provider is None:
            continue
        net, authorizations = h.provider_net(order.id), h.provider_authorizations(order.id)
        if net not in (0, total):
            bad.append(f"order {order.id}: provider captured {net} net, total {total}")
        if authorizations > 1:
            bad.append(f"order {order.id}: {authorizations} approved authorizations at the provider")
        if net != stored:
            bad.append(f"order {order.id}: provider captured {net} net, payments store says {stored}")
    where = (
        "payments store only (no provider ledger)"
        if h.provider is None
        else f"{len(h.provider)} provider operations"
    )
    return Finding("I1", "no double charge", f"{len(h.orders)} orders, {where}", bad)


def stock_conserved(h: Holdings) -> Finding:
    """I2: per stock item (a tenant's stock of a SKU), restocked = available + reserved +
    shipped, and available >= 0."""
    bad = [
        f"{_named(item)}: restocked {item.restocked} != available {item.available}"
        f" + reserved {item.reserved} + shipped {item.shipped}"
        for item in h.stock
        if item.restocked != item.available + item.reserved + item.shipped
    ]
    bad += [f"{_named(item)}: available {item.available} < 0" for item in h.stock if item.available < 0]
    return Finding("I2", "stock conserved", f"{len(h.stock)} stock items", bad)


def _named(item: StockItem) -> str:
    """A stock item as a reader finds it: its SKU, and whose stock it is when a tenant's."""
    return f"{item.tenant_id}/{item.sku}" if item.tenant_id else item.sku


def every_order_terminal(h: Holdings) -> Finding:
    """I3: every accepted order reached completed, cancelled or failed."""
    bad = [f"order {order.id} is {order.status}" for order in h.orders if not order.is_terminal]
    return Finding("I3", "every order terminal", f"{len(h.orders)} orders", bad)


def terminal_states_consistent(h: Holdings) -> Finding:
    """I4: completed => captured and handed over; failed or cancelled => nothing captured, no
    stock held and no live booking, in the stores and in the provider's and the carrier's
    own ledgers."""
    bad = []
    for order in h.orders:
        if order.status is OrderStatus.COMPLETED:
            bad += _completed_problems(h, order)
        elif order.status in STOPPED:
            bad += [f"order {order.id} {order.status}: {problem}" for problem in _stopped_problems(h, order)]
    finished = sum(1 for order in h.orders if order.is_terminal)
    return Finding("I4", "terminal states consistent", f"{finished} terminal orders", bad)


def _completed_problems(h: Holdings, order: Order) -> list[str]:
    payment, shipment, parcel = h.payments.get(order.id), h.shipments.get(order.id), h.parcel(order.id)
    paid = payment is not None and payment.status is PaymentStatus.CAPTURED
    shipped = shipment is not None and shipment.status is ShipmentStatus.SHIPPED
    if paid and shipped and parcel in (None, "handed_over"):
        return []
    at_carrier = f", parcel at the carrier {parcel}" if parcel is not None else ""
    return [
        f"order {order.id} completed: payment {_status(payment)}, shipment {_status(shipment)}{at_carrier}"
    ]


def _stopped_problems(h: Holdings, order: Order) -> list[str]:
    payment, shipment, parcel = h.payments.get(order.id), h.shipments.get(order.id), h.parcel(order.id)
    problems = []
    if (payment.net_captured.cents if payment else 0) or (
        h.provider is not None and h.provider_net(order.id)
    ):
        problems.append("money still captured")
    if held := h.held(order.id):
        problems.append(f"still holds stock of {', '.join(held)}")
    if shipment is not None and shipment.status not in (ShipmentStatus.FAILED, ShipmentStatus.CANCELLED):
        problems.append(f"shipment still {shipment.status}")
    if parcel in ("booked", "handed_over"):
        problems.append(f"the carrier's parcel is {parcel}")
    return problems


def projections_equal_fresh_fold(settings: Settings, system: System) -> Finding:
    """I5: each read model equals a fresh fold of the event store (a rebuild that is rolled back)."""
    logs = dict(system.apps)
    bad = []
    for name, projection in PROJECTIONS.items():
        outcome = rebuild_from_events(settings, projection, logs, dry_run=True)
        if outcome.checksum != outcome.before:
            bad.append(f"{name}: live checksum {outcome.before}, fresh fold {outcome.checksum}")
    return Finding("I5", "projections equal a fresh fold", f"{len(PROJECTIONS)} projections", bad)


def published_and_applied(settings: Settings, tables: Mapping[str, str], scanner: TopicScanner) -> Finding:
    """I6: every stored event is on its topic at least once, and each projection applied
    every aggregate up to its latest version (once: versions are its dedupe record)."""
    scanner.catch_up()
    bad = []
    with connect(settings) as conn:
        versions = {context: store.max_versions(conn, table) for context, table in tables.items()}
        for context, by_aggregate in versions.items():
            bad += [
                f"{context} event {a} v{v} not on {settings.topic(context)}"
                for a, v in unpublished(by_aggregate, scanner)
            ]
        for name, projection in PROJECTIONS.items():
            applied = store.applied_versions(conn, name)
            bad += [
                f"{name}: {a} applied to v{done}, stored up to v{last}"
                for a, done, last in store.behind(expected(versions, projection.contexts), applied)
            ]
            bad += [f"{name}: {entry}" for entry in store.waiting(conn, name)]
    events = sum(sum(v.values()) for v in versions.values())
    records = sum(scanner.seen.values())
    return Finding(
        "I6",
        "published and applied once",
        f"{events} events, {records} records on the topics, {len(PROJECTIONS)} projections",
        bad,
    )


def _net(operations: Sequence[ProviderOperation]) -> int:
    approved = [op for op in operations if op.status == "approved"]
    captured = sum(op.cents for op in approved if op.operation == "capture")
    return captured - sum(op.cents for op in approved if op.operation == "refund")


def _status(aggregate: Any) -> str:
    return str(aggregate.status) if aggregate is not None else "none"
