"""Who may publish a context's events, and where it got to: one row per context in PostgreSQL.

Exactly one relay per context is active. It holds a session-level advisory lock on a
dedicated connection; the lock goes when that connection goes (process killed, backend
terminated, network lost), so a standby can take over without anyone cleaning up.

Every write of the active relay is fenced: it runs on the lock-holding connection and
matches the epoch it was given when it took the lock. A relay that lost its lock without
noticing (paused, cut off) fails its next write, either because its connection is gone or
because a successor has moved the epoch on, and steps down instead of moving the position.

A holder that still has its lock but stopped making progress (SIGSTOP, a hung host) is
detected by its lease: it renews `heartbeat_at` regularly, and a standby that finds the
heartbeat older than the lease terminates the holder's backend, which releases the lock.
Both sides read `now()` from the same server, so clocks of the relay hosts do not matter.

Beside the position, the row keeps the highest offset the broker acked per partition
(`acked`), saved with the position by the same fenced write: the evidence against which a
broker that lost its records is recognised (`audit`).
"""

import hashlib
import logging
import time
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from infrastructure.database import DDL_LOCK_KEY, connect
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS relay_positions (
    context text PRIMARY KEY,
    position bigint NOT NULL,
    epoch bigint NOT NULL,
    holder text NOT NULL,
    heartbeat_at timestamptz NOT NULL)"""
# Added after the table: a table from before gets it here, empty (nothing known yet).
ADD_ACKED = "ALTER TABLE relay_positions ADD COLUMN IF NOT EXISTS acked jsonb NOT NULL DEFAULT '{}'"
CLAIM = """
INSERT INTO relay_positions AS r (context, position, epoch, holder, heartbeat_at)
VALUES (%s, 0, 1, %s, now())
ON CONFLICT (context) DO UPDATE
SET epoch = r.epoch + 1, holder = excluded.holder, heartbeat_at = now()
RETURNING position, epoch, acked"""
RENEW = "UPDATE relay_positions SET heartbeat_at = now() WHERE context = %s AND epoch = %s"
SAVE = """
UPDATE relay_positions SET position = %s, acked = %s, heartbeat_at = now()
WHERE context = %s AND epoch = %s"""
# The backend holding our advisory key (a bigint key shows as classid:objid, objsubid 1),
# terminated only if its heartbeat is older than the lease.
DEPOSE_STALE_HOLDER = """
SELECT pg_terminate_backend(l.pid)
FROM relay_positions r
JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s
WHERE r.context = %(context)s AND r.heartbeat_at < now() - make_interval(secs => %(lease)s)"""


class LeadershipLostError(RuntimeError):
    """A fenced write found the lock or the epoch gone: another relay may be active now."""


def advisory_key(schema: str, context: str) -> int:
    """A stable, non-negative 63-bit lock key per (schema, context): deployments sharing a
    database in different schemas (the tests do) do not block each other."""
    digest = hashlib.blake2b(f"relay:{schema}:{context}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


class Leadership:
    """One relay's claim on its context: the lock connection, the epoch, the position."""

    def __init__(self, settings: Settings, context: str, holder: str, lease_s: float) -> None:
        self.settings = settings
        self.context = context
        self.holder = holder
        self.lease_s = lease_s
        self.key = advisory_key(settings.postgres_schema, context)
        self.epoch: int | None = None
        self.position = 0
        self.acked: dict[int, int] = {}  # partition -> highest offset acked, up to `position`
        self.renewed_at = 0.0  # time.monotonic() of the last write that proved the lead
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def is_leader(self) -> bool:
        return self.epoch is not None

    def try_acquire(self) -> bool:
        """Take the lock and a new epoch if free (deposing a holder past its lease first);
        False while another relay legitimately holds it or the database is unreachable."""
        try:
            conn = self._connection()
            if not _row(conn, "SELECT pg_try_advisory_lock(%s)", (self.key,))[0]:
                self._depose_stale_holder(conn)
                return False
            self.position, self.epoch, acked = _row(conn, CLAIM, (self.context, self.holder))
            self.acked = {int(partition): int(offset) for partition, offset in acked.items()}
            self.renewed_at = time.monotonic()
        except psycopg.Error as error:
            log.warning("%s relay: cannot take the lead: %s", self.context, error)
            self.step_down()
            return False
        log.info("%s relay: leading at epoch %s from position %s", self.context, self.epoch, self.position)
        return True

    def renew(self) -> None:
        """Prove we still lead, and extend the lease; raises LeadershipLostError otherwise."""
        self._fenced(RENEW, (self.context, self.epoch))

    def save(self, position: int, acked: dict[int, int] | None = None) -> None:
        """Record that everything up to `position` was acked, and the highest offset per
        partition if given (else as before); refused unless we still lead. Position 0 with
        `{}` starts the log over."""
        acked = self.acked if acked is None else acked
        self._fenced(SAVE, (position, Jsonb({str(p): o for p, o in acked.items()}), self.context, self.epoch))
        self.position, self.acked = position, dict(acked)

    def step_down(self) -> None:
        """Close the lock connection, which releases the lock if we still held it."""
        self.epoch = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _fenced(self, statement: str, params: tuple[Any, ...]) -> None:
        if self._conn is None or self.epoch is None:
            raise LeadershipLostError(f"{self.context} relay is not leading")
        epoch = self.epoch
        try:
            updated = self._conn.execute(statement, params).rowcount
        except psycopg.Error as error:
            self.step_down()
            raise LeadershipLostError(f"{self.context} relay lost its lock connection: {error}") from error
        if updated != 1:
            self.step_down()
            raise LeadershipLostError(f"{self.context} relay epoch {epoch} was superseded")
        self.renewed_at = time.monotonic()

    def _depose_stale_holder(self, conn: psycopg.Connection[Any]) -> None:
        params = {"key": self.key, "context": self.context, "lease": self.lease_s}
        if conn.execute(DEPOSE_STALE_HOLDER, params).fetchall():
            log.warning("%s relay: the holder missed its %ss lease; ended it", self.context, self.lease_s)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings, autocommit=True)
            _create_table(self._conn)
        return self._conn


def _create_table(conn: psycopg.Connection[Any]) -> None:
    """In the settings' schema, which the composition root created. Concurrent CREATE TABLE
    IF NOT EXISTS can still collide on the catalogue; the shared DDL lock serialises them."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
        conn.execute(CREATE_TABLE)
        conn.execute(ADD_ACKED)


def _row(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    row: tuple[Any, ...] | None = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row
