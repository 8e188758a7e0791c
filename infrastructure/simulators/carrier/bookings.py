"""The carrier simulator's bookings: one parcel per idempotency key, in PostgreSQL.

Its own schema ("carrier" by default) holds every booking, so a test can count the parcels
the carrier really booked. The key is the primary key: a repeated or concurrent request
under one key gets the first answer (the same tracking id), never a second parcel. A
destination the carrier cannot serve (containing "FAIL") is refused, and the refusal is
the answer for that key from then on.
"""

import uuid
from dataclasses import dataclass, fields

from infrastructure.carrier import REFUSED_MARKER
from infrastructure.database import connect
from infrastructure.settings import Settings
from infrastructure.simulators import keys

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.shipments (
        idempotency_key text PRIMARY KEY,
        destination text NOT NULL,
        status text NOT NULL,
        tracking_id text NOT NULL,
        reason text NOT NULL,
        fingerprint text NOT NULL,
        answers_to_lose int NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now())"""
]
BOOK = """INSERT INTO {table}
    (idempotency_key, destination, status, tracking_id, reason, fingerprint, answers_to_lose)
    VALUES (%(key)s, %(destination)s, %(status)s, %(tracking_id)s, %(reason)s, %(fingerprint)s, %(lose)s)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"""


@dataclass(frozen=True)
class Booking:
    idempotency_key: str
    destination: str
    status: str  # accepted or refused
    tracking_id: str  # empty when refused
    reason: str


class Bookings:
    def __init__(self, settings: Settings, schema: str = "carrier") -> None:
        keys.create_tables(settings, schema, DDL)
        self.settings = settings
        self._shipments = keys.KeyedTable(schema, "shipments", [f.name for f in fields(Booking)], Booking)

    def book(self, key: str, destination: str, lose_answer: bool = False) -> keys.Answered[Booking]:
        """Book a parcel unless the key has one; `lose_answer` loses the first reply to a new booking."""
        fingerprint = keys.fingerprint({"destination": destination})
        refused = REFUSED_MARKER in destination
        params = {
            "key": key,
            "destination": destination,
            "status": "refused" if refused else "accepted",
            "tracking_id": "" if refused else f"TRK-{uuid.uuid4().hex[:12].upper()}",
            "reason": f"cannot deliver to {destination!r}" if refused else "",
            "fingerprint": fingerprint,
            "lose": 1 if lose_answer else 0,
        }
        with connect(self.settings) as conn, conn.transaction():
            inserted = self._shipments.insert(conn, BOOK, params)
            answer = self._shipments.answer(conn, key, fingerprint, inserted)
        assert answer is not None, "the row was inserted or already there"
        return answer

    def all(self) -> list[Booking]:
        """Every booking, refused ones included, oldest first."""
        with connect(self.settings) as conn:
            return self._shipments.all(conn)
