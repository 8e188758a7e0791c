"""The carrier simulator's bookings: one parcel per idempotency key, in PostgreSQL.

Its own schema ("carrier" by default) holds every booking, so a test can count the parcels
the carrier really booked. The key is the primary key: a repeated or concurrent request
under one key gets the first answer (the same tracking id), never a second parcel. A
destination the carrier cannot serve (containing "FAIL") is refused, and the refusal is
the answer for that key from then on. A booked parcel's `state` (booked, then cancelled or
handed_over) is changed by `parcels.py`, which locks its row to do so.
"""

import uuid
from dataclasses import dataclass, fields

from infrastructure.database import pool
from infrastructure.settings import Settings
from infrastructure.simulators import keys
from infrastructure.simulators.carrier.rules import REFUSED_MARKER

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.shipments (
        idempotency_key text PRIMARY KEY,
        destination text NOT NULL,
        status text NOT NULL,
        tracking_id text NOT NULL,
        reason text NOT NULL,
        fingerprint text NOT NULL,
        answers_to_lose int NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        state text NOT NULL DEFAULT 'booked')""",
    # bookings recorded before parcels had a state
    "ALTER TABLE {schema}.shipments ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'booked'",
    "UPDATE {schema}.shipments SET state = 'refused' WHERE status = 'refused' AND state <> 'refused'",
    """CREATE UNIQUE INDEX IF NOT EXISTS shipments_tracking_id ON {schema}.shipments (tracking_id)
        WHERE tracking_id <> ''""",
]
BOOK = """INSERT INTO {table}
    (idempotency_key, destination, status, tracking_id, reason, fingerprint, answers_to_lose, state)
    VALUES (%(key)s, %(destination)s, %(status)s, %(tracking_id)s, %(reason)s, %(fingerprint)s, %(lose)s,
        %(state)s)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"""


@dataclass(frozen=True)
class Booking:
    idempotency_key: str
    destination: str
    status: str  # accepted or refused
    tracking_id: str  # empty when refused
    reason: str


@dataclass(frozen=True)
class Parcel(Booking):
    """A booking as it stands now (a booking's answer never changes, its parcel's state does)."""

    state: str  # booked, cancelled or handed_over; "refused" when nothing was booked


class Bookings:
    def __init__(self, settings: Settings, schema: str = "carrier") -> None:
        keys.create_tables(settings, schema, DDL)
        self.settings = settings
        self._pool = pool(settings, max_connections=4, min_connections=0)
        self._shipments = keys.KeyedTable(schema, "shipments", [f.name for f in fields(Booking)], Booking)
        self._parcels = keys.KeyedTable(schema, "shipments", [f.name for f in fields(Parcel)], Parcel)

    def book(self, key: str, destination: str, lose_answer: bool = False) -> keys.Answered[Booking]:
        """Book a parcel unless the key has one; `lose_answer` loses the first reply to a new booking."""
        fingerprint = keys.fingerprint({"destination": destination})
        refused = REFUSED_MARKER in destination
        params = {
            "key": key,
            "destination": destination,
            "status": "refused" if refused else "accepted",
            "state": "refused" if refused else "booked",
            "tracking_id": "" if refused else f"TRK-{uuid.uuid4().hex[:12].upper()}",
            "reason": f"cannot deliver to {destination!r}" if refused else "",
            "fingerprint": fingerprint,
            "lose": 1 if lose_answer else 0,
        }
        with self._pool.connection() as conn, conn.transaction():
            inserted = self._shipments.insert(conn, BOOK, params)
            answer = self._shipments.answer(conn, key, fingerprint, inserted)
        assert answer is not None, "the row was inserted or already there"
        return answer

    def all(self) -> list[Parcel]:
        """Every booking and the state of its parcel, refused ones included, oldest first."""
        with self._pool.connection() as conn:
            return self._parcels.all(conn)
