"""What PostgreSQL holds, read with plain SQL: the stores' aggregates and versions, the
relays' positions, the projections' bookkeeping and the payment provider's ledger.

Each reader tolerates a table that does not exist yet (no relay or projector has run):
that reads as "nothing published, nothing applied", which the invariants then report.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection, sql

from domain.orders import Order

TERMINAL_TOPICS = [Order.Completed.TOPIC, Order.Cancelled.TOPIC, Order.Failed.TOPIC]
PROVIDER_LEDGER = "psp.operations"  # infrastructure/gateways/payments/ledger.py, the provider's own records
CARRIER_LEDGER = "carrier.shipments"  # infrastructure/simulators/carrier/, the carrier's own records


@dataclass(frozen=True)
class ProviderOperation:
    key: str  # "<payment id>:<operation>", the idempotency key the payments context sent
    operation: str  # authorize, capture, void, refund
    cents: int
    status: str  # approved or declined
    reference: str  # the provider's id of the operation
    recorded_at: datetime

    @property
    def payment_id(self) -> str:
        return self.key.partition(":")[0]


@dataclass(frozen=True)
class CarrierBooking:
    key: str  # "<shipment id>:book", the idempotency key the fulfillment context sent
    tracking_id: str  # empty when the booking was refused
    state: str  # booked, cancelled, handed_over; refused when nothing was booked
    recorded_at: datetime


def exists(conn: Connection[Any], table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone() == (True,)


def max_versions(conn: Connection[Any], events_table: str) -> dict[UUID, int]:
    """Every aggregate of one context and its latest version."""
    query = sql.SQL("SELECT originator_id, max(originator_version) FROM {} GROUP BY originator_id")
    return dict(conn.execute(query.format(sql.Identifier(events_table))).fetchall())


def max_notification_id(conn: Connection[Any], events_table: str) -> int:
    query = sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(sql.Identifier(events_table))
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def orders_in_flight(conn: Connection[Any], events_table: str) -> list[UUID]:
    """Orders that have no terminal event yet."""
    query = sql.SQL(
        "SELECT originator_id FROM {} GROUP BY originator_id HAVING NOT bool_or(topic = ANY(%s))"
    ).format(sql.Identifier(events_table))
    return [row[0] for row in conn.execute(query, (TERMINAL_TOPICS,)).fetchall()]


def relay_positions(conn: Connection[Any]) -> dict[str, int]:
    if not exists(conn, "relay_positions"):
        return {}
    return dict(conn.execute("SELECT context, position FROM relay_positions").fetchall())


def applied_versions(conn: Connection[Any], projection: str) -> dict[UUID, int]:
    """The last version of each aggregate a projection applied (its deduplication record)."""
    if not exists(conn, "projection_versions"):
        return {}
    query = "SELECT aggregate_id, version FROM projection_versions WHERE projection = %s"
    return dict(conn.execute(query, (projection,)).fetchall())


def waiting(conn: Connection[Any], projection: str) -> list[str]:
    """Events a projection has parked or dead-lettered and not resolved."""
    found = []
    if exists(conn, "projection_parked"):
        query = "SELECT aggregate_id, version, reason FROM projection_parked WHERE projection = %s"
        found += [f"{a} v{v} parked ({why})" for a, v, why in conn.execute(query, (projection,))]
    if exists(conn, "projection_dead_letters"):
        query = (
            "SELECT id, aggregate_id, version FROM projection_dead_letters"
            " WHERE projection = %s AND status = 'open'"
        )
        found += [f"dead letter #{i}: {a} v{v}" for i, a, v in conn.execute(query, (projection,))]
    return found


def provider_operations(conn: Connection[Any]) -> list[ProviderOperation] | None:
    """The provider's ledger, or None where this system's provider keeps no shared ledger."""
    if not exists(conn, PROVIDER_LEDGER):
        return None
    query = (
        "SELECT idempotency_key, operation, amount_cents, status, reference, recorded_at"
        f" FROM {PROVIDER_LEDGER}"
    )
    return [ProviderOperation(*row) for row in conn.execute(query).fetchall()]


def carrier_bookings(conn: Connection[Any]) -> dict[str, CarrierBooking] | None:
    """Every booking the carrier recorded, refused ones included, by its key; None where no
    carrier keeps a shared ledger."""
    if not exists(conn, CARRIER_LEDGER):
        return None
    query = f"SELECT idempotency_key, tracking_id, state, recorded_at FROM {CARRIER_LEDGER}"
    return {row[0]: CarrierBooking(*row) for row in conn.execute(query).fetchall()}


def pending_calls(conn: Connection[Any], calls_tables: Iterable[str]) -> int:
    """Calls to the provider or the carrier decided and not yet answered (or parked)."""
    pending = 0
    for table in calls_tables:
        if exists(conn, table):
            query = sql.SQL("SELECT count(*) FROM {} WHERE state = 'pending'").format(sql.Identifier(table))
            row = conn.execute(query).fetchone()
            pending += int(row[0]) if row else 0
    return pending


def behind(expected: Mapping[UUID, int], applied: Mapping[UUID, int]) -> Iterable[tuple[UUID, int, int]]:
    """(aggregate, applied, stored) for every aggregate whose applied version is not the stored one."""
    for aggregate_id, version in expected.items():
        if applied.get(aggregate_id, 0) != version:
            yield aggregate_id, applied.get(aggregate_id, 0), version
