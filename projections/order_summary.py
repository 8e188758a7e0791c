"""`order_summary`: one row per order, what a customer service screen shows.

Fed by three aggregates per order, each with its own id and versions: the order (status,
lines, totals), its payment (payment status, captured and refunded amounts) and its
shipment (shipment status, tracking id). Their events reach the projector through three
topics in no particular order relative to each other, so each aggregate writes only its
own columns, amounts are added as deltas, and the history is kept sorted by time and event
id rather than by arrival. Whichever event of an order arrives first creates its row.
"""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb

from domain.fulfillment import ShipmentStatus
from domain.orders import OrderStatus
from domain.payments import PaymentStatus
from infrastructure.contracts import IntegrationEvent, Payload, orders, payments
from infrastructure.contracts import fulfillment as shipments
from projections.projection import Handler, Projection, Table

TABLE = Table(
    "order_summary",
    "CREATE TABLE IF NOT EXISTS order_summary ("
    " order_id uuid PRIMARY KEY, customer_id text, status text, currency text, total_cents bigint,"
    " lines jsonb, payment_status text, captured_cents bigint NOT NULL DEFAULT 0,"
    " refunded_cents bigint NOT NULL DEFAULT 0, shipment_status text, tracking_id text,"
    " history jsonb NOT NULL DEFAULT '[]')",
)
# The history as a sorted set: the same events give the same list, whatever their arrival order.
HISTORY = sql.SQL(
    "history = (SELECT jsonb_agg(e ORDER BY (e->>'occurred_at')::timestamptz, e->>'event_id')"
    " FROM jsonb_array_elements(order_summary.history || EXCLUDED.history) AS e)"
)


class OrderSummary(Projection):
    name = "order_summary"
    contexts = ("orders", "payments", "fulfillment")
    tables = (TABLE,)

    def handlers(self) -> Mapping[type[Payload], Handler]:
        return {
            orders.OrderPlaced: _placed,
            orders.OrderStockReserved: _column("status", OrderStatus.RESERVED),
            orders.OrderPaymentAuthorized: _column("status", OrderStatus.PAID),
            orders.OrderFulfillmentRequested: _column("status", OrderStatus.FULFILLING),
            orders.OrderShipped: _column("status", OrderStatus.SHIPPED),
            orders.OrderCompleted: _column("status", OrderStatus.COMPLETED),
            orders.OrderCancelled: _column("status", OrderStatus.CANCELLED),
            orders.OrderFailed: _column("status", OrderStatus.FAILED),
            orders.OrderCompensated: _history_only,
            payments.PaymentRequested: _column("payment_status", PaymentStatus.REQUESTED),
            payments.PaymentAuthorized: _column("payment_status", PaymentStatus.AUTHORIZED),
            payments.PaymentDeclined: _column("payment_status", PaymentStatus.DECLINED),
            payments.PaymentCaptureRequested: _column("payment_status", PaymentStatus.CAPTURING),
            payments.PaymentCaptured: _captured,
            payments.PaymentVoidRequested: _column("payment_status", PaymentStatus.VOIDING),
            payments.PaymentVoided: _column("payment_status", PaymentStatus.VOIDED),
            payments.PaymentRefundRequested: _history_only,
            payments.PaymentRefunded: _refunded,
            shipments.ShipmentRequested: _column("shipment_status", ShipmentStatus.REQUESTED),
            shipments.ShipmentBooked: _booked,
            shipments.ShipmentFailed: _column("shipment_status", ShipmentStatus.FAILED),
            shipments.ShipmentHandOverRequested: _column("shipment_status", ShipmentStatus.HANDING_OVER),
            shipments.ShipmentShipped: _column("shipment_status", ShipmentStatus.SHIPPED),
            shipments.ShipmentCancelRequested: _column("shipment_status", ShipmentStatus.CANCELLING),
            shipments.ShipmentCancelled: _column("shipment_status", ShipmentStatus.CANCELLED),
        }


def _placed(cursor: Cursor[Any], event: IntegrationEvent, placed: orders.OrderPlaced) -> None:
    lines = Jsonb([line.model_dump() for line in placed.lines])
    order = {"customer_id": placed.customer_id, "currency": placed.currency, "lines": lines}
    put = {"status": OrderStatus.PLACED.value, "total_cents": placed.total_cents, **order}
    _change(cursor, event, placed.order_id, put)


def _column(column: str, value: str) -> Handler:
    return lambda cursor, event, payload: _change(cursor, event, payload.order_id, {column: str(value)})


def _history_only(cursor: Cursor[Any], event: IntegrationEvent, payload: Any) -> None:
    _change(cursor, event, payload.order_id)


def _captured(cursor: Cursor[Any], event: IntegrationEvent, captured: payments.PaymentCaptured) -> None:
    put, add = {"payment_status": PaymentStatus.CAPTURED.value}, {"captured_cents": captured.amount_cents}
    _change(cursor, event, captured.order_id, put, add)


def _refunded(cursor: Cursor[Any], event: IntegrationEvent, refunded: payments.PaymentRefunded) -> None:
    """A refund adds up; the payment reads refunded once all of the capture is given back."""
    _change(cursor, event, refunded.order_id, add={"refunded_cents": refunded.amount_cents})
    cursor.execute(
        "UPDATE order_summary SET payment_status = %s"
        " WHERE order_id = %s AND refunded_cents >= captured_cents",
        (PaymentStatus.REFUNDED.value, UUID(refunded.order_id)),
    )


def _booked(cursor: Cursor[Any], event: IntegrationEvent, booked: shipments.ShipmentBooked) -> None:
    put = {"shipment_status": ShipmentStatus.BOOKED.value, "tracking_id": booked.tracking_id}
    _change(cursor, event, booked.order_id, put)


def _change(
    cursor: Cursor[Any],
    event: IntegrationEvent,
    order_id: str,
    put: Mapping[str, Any] | None = None,
    add: Mapping[str, int] | None = None,
) -> None:
    """Upsert the order's row: `put` columns take the new value, `add` columns grow by it, and
    the event joins the history."""
    put, add = put or {}, add or {}
    entry = {"event_type": event.event_type, "occurred_at": event.occurred_at.isoformat()}
    columns = ["order_id", "history", *put, *add]
    updates = [_set("{0} = EXCLUDED.{0}", c) for c in put]
    updates += [_set("{0} = order_summary.{0} + EXCLUDED.{0}", c) for c in add]
    query = sql.SQL("INSERT INTO order_summary ({}) VALUES ({}) ON CONFLICT (order_id) DO UPDATE SET {}")
    cursor.execute(
        query.format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.SQL(", ").join([*updates, HISTORY]),
        ),
        (UUID(order_id), Jsonb([{**entry, "event_id": event.event_id}]), *put.values(), *add.values()),
    )


def _set(template: str, column: str) -> sql.Composable:
    return sql.SQL(template).format(sql.Identifier(column))
