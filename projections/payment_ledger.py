"""`payment_ledger`: one row per payment event, what moved money or changed a payment's state.

Append-only and keyed by event id, so it is idempotent by its primary key alone. The
amount is what the event concerns (requested, captured, refunded, or a refund asked for), 0
for events that only change the status; net captured per order (invariant I1) is captured minus refunded.
"""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg import Cursor

from infrastructure.contracts import IntegrationEvent, Payload, payments
from projections.projection import Handler, Projection, Table

LEDGER = Table(
    "payment_ledger",
    "CREATE TABLE IF NOT EXISTS payment_ledger ("
    " event_id text PRIMARY KEY, order_id uuid NOT NULL, kind text NOT NULL,"
    " amount_cents bigint NOT NULL, occurred_at timestamptz NOT NULL)",
)
KINDS: dict[type[Payload], str] = {
    payments.PaymentRequested: "requested",
    payments.PaymentAuthorized: "authorized",
    payments.PaymentDeclined: "declined",
    payments.PaymentCaptureRequested: "capture_requested",
    payments.PaymentCaptured: "captured",
    payments.PaymentVoidRequested: "void_requested",
    payments.PaymentVoided: "voided",
    payments.PaymentRefundRequested: "refund_requested",
    payments.PaymentRefunded: "refunded",
}


class PaymentLedger(Projection):
    name = "payment_ledger"
    contexts = ("payments",)
    tables = (LEDGER,)

    def handlers(self) -> Mapping[type[Payload], Handler]:
        return dict.fromkeys(KINDS, _entry)


def _entry(cursor: Cursor[Any], event: IntegrationEvent, payload: Any) -> None:
    cursor.execute(
        "INSERT INTO payment_ledger (event_id, order_id, kind, amount_cents, occurred_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
        (
            event.event_id,
            UUID(payload.order_id),
            KINDS[type(payload)],
            getattr(payload, "amount_cents", 0),
            event.occurred_at,
        ),
    )
