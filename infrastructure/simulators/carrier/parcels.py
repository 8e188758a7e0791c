"""A booked parcel's label lifecycle at the carrier: cancelled or handed over, never both
(`rules.py`).

Each request has an idempotency key of its own (table `parcel_operations`, one row per key):
a repeat under the key is answered from its row, refusals included. A request is decided
while the parcel's booking row is locked (SELECT ... FOR UPDATE), so a cancel and a hand-over
racing each other are decided one after the other: exactly one of them wins, and the other
sees its outcome. A tracking id the carrier never issued is unknown (404) and records nothing.
"""

from dataclasses import dataclass, fields

from psycopg import sql

from infrastructure.database import pool
from infrastructure.settings import Settings
from infrastructure.simulators import keys
from infrastructure.simulators.carrier.rules import TRANSITIONS

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.parcel_operations (
        idempotency_key text PRIMARY KEY,
        operation text NOT NULL,
        tracking_id text NOT NULL,
        status text NOT NULL,
        reason text NOT NULL,
        refusal text NOT NULL,
        fingerprint text NOT NULL,
        answers_to_lose int NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now())"""
]
LOCK = "SELECT state FROM {table} WHERE tracking_id = %s AND status = 'accepted' FOR UPDATE"
MOVE = "UPDATE {table} SET state = %s WHERE tracking_id = %s"
RECORD = """INSERT INTO {table}
    (idempotency_key, operation, tracking_id, status, reason, refusal, fingerprint, answers_to_lose)
    VALUES (%(key)s, %(operation)s, %(tracking_id)s, %(status)s, %(reason)s, %(refusal)s, %(fingerprint)s,
        %(lose)s)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"""


@dataclass(frozen=True)
class ParcelOperation:
    """What the carrier answered under one key: the parcel's new state, or "refused"."""

    idempotency_key: str
    operation: str  # cancel or hand_over
    tracking_id: str
    status: str  # cancelled, handed_over or refused
    reason: str
    refusal: str  # the problem a refused operation is answered with (`problems.BY_NAME`)


class UnknownParcelError(Exception):
    """No booked parcel has this tracking id."""


class Parcels:
    def __init__(self, settings: Settings, schema: str = "carrier") -> None:
        """On the bookings' schema (`bookings.py` creates the `shipments` table first)."""
        keys.create_tables(settings, schema, DDL)
        self.settings = settings
        self._pool = pool(settings, max_connections=4, min_connections=0)
        self._shipments = sql.Identifier(schema, "shipments")
        columns = [f.name for f in fields(ParcelOperation)]
        self._operations = keys.KeyedTable(schema, "parcel_operations", columns, ParcelOperation)

    def cancel(self, key: str, tracking_id: str, lose_answer: bool = False) -> keys.Answered[ParcelOperation]:
        return self._move(key, "cancel", tracking_id, lose_answer)

    def hand_over(
        self, key: str, tracking_id: str, lose_answer: bool = False
    ) -> keys.Answered[ParcelOperation]:
        return self._move(key, "hand_over", tracking_id, lose_answer)

    def _move(
        self, key: str, operation: str, tracking_id: str, lose_answer: bool
    ) -> keys.Answered[ParcelOperation]:
        """Decide under the parcel's row lock; `lose_answer` loses the first reply to a new request."""
        transition = TRANSITIONS[operation]
        fingerprint = keys.fingerprint({"operation": operation, "tracking_id": tracking_id})
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(sql.SQL(LOCK).format(table=self._shipments), (tracking_id,)).fetchone()
            if row is None:
                raise UnknownParcelError(f"{operation} {key}: no parcel {tracking_id!r}")
            answered = self._operations.answer(conn, key, fingerprint, inserted=False)
            if answered is not None:
                return answered
            why = transition.refusal(operation, row[0])
            refused = why is not None
            params = {
                "key": key,
                "operation": operation,
                "tracking_id": tracking_id,
                "status": "refused" if refused else transition.to,
                "reason": why or "",
                "refusal": transition.problem.name if refused else "",
                "fingerprint": fingerprint,
                "lose": 1 if lose_answer else 0,
            }
            inserted = self._operations.insert(conn, RECORD, params)
            if inserted and not refused:
                conn.execute(sql.SQL(MOVE).format(table=self._shipments), (transition.to, tracking_id))
            answer = self._operations.answer(conn, key, fingerprint, inserted)
        assert answer is not None, "the row was inserted or already there"
        return answer
