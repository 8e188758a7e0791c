"""Who may publish a context's events, and where it got to: one row per context in PostgreSQL.

Exactly one relay per context is active: the holder of the context's lock
(`infrastructure/leadership.py`), a PostgreSQL advisory lock on a session of its own or a
Redis lock, as ORDERS_LOCK_BACKEND says. The advisory lock goes when its session goes
(process killed, backend terminated, network lost), the Redis lock when its lease runs out
unrenewed, so a standby can take over without anyone cleaning up.

Every write of the active relay is fenced twice, on the lock's session: by the lock's fence
(refused once a later holder took the lock) and by the epoch it was given when it took the
lock. A relay that lost its lock without noticing (paused, cut off) fails its next write,
because its session is gone, its fence is passed or a successor has moved the epoch on, and
steps down instead of moving the position. Renewing the lead renews the lock first.

A holder that still has its advisory lock but stopped making progress (SIGSTOP, a hung host)
is detected by its lease: it renews `heartbeat_at` regularly, and a standby that finds the
heartbeat older than the lease terminates the holder's backend, which releases the lock.
Both sides read `now()` from the same server, so clocks of the relay hosts do not matter. A
Redis lock needs no such help: it is leased for as long, and expires by itself.

Beside the position, the row keeps the highest offset the broker acked per partition
(`acked`), saved with the position by the same fenced write: the evidence against which a
broker that lost its records is recognised (`audit`).
"""

import logging
import time
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from domain.ports import FencedOutError
from infrastructure.database import DDL_LOCK_KEY
from infrastructure.leadership import SERVER_ERRORS, AdvisoryLock, fenced, lock_for, lock_key
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
    """The lock was lost, or a fenced write found its fence passed or its epoch gone: another
    relay may be active now."""


def advisory_key(schema: str, context: str) -> int:
    """The key of the relay lock of `context` in `schema`, as `pg_locks` shows its holder."""
    return lock_key(schema, _lock_name(context))


def _lock_name(context: str) -> str:
    return f"relay:{context}"


class Leadership:
    """One relay's claim on its context: the lock, the epoch, the position."""

    def __init__(self, settings: Settings, context: str, holder: str, lease_s: float) -> None:
        self.context = context
        self.holder = holder
        self.lease_s = lease_s
        self.lock = lock_for(settings, _lock_name(context), lease_s)
        self.epoch: int | None = None
        self.position = 0
        self.acked: dict[int, int] = {}  # partition -> highest offset acked, up to `position`
        self.renewed_at = 0.0  # time.monotonic() of the last write that proved the lead
        self._table_created = False

    @property
    def is_leader(self) -> bool:
        return self.epoch is not None

    def try_acquire(self) -> bool:
        """Take the lock and a new epoch if free (deposing a holder of the advisory lock past
        its lease first); False while another relay legitimately holds it or a server fails."""
        try:
            taken = self.lock.take()
            if not self._table_created:
                _create_table(self.lock.session)
                self._table_created = True
            if not taken:
                if isinstance(self.lock, AdvisoryLock):  # a Redis lock's lease runs out by itself
                    self._depose_stale_holder(self.lock)
                return False
            assert self.lock.fence is not None
            with fenced(self.lock.session, self.lock.fence):
                claimed = _row(self.lock.session, CLAIM, (self.context, self.holder))
            self.position, self.epoch, acked = claimed
            self.acked = {int(partition): int(offset) for partition, offset in acked.items()}
            self.renewed_at = time.monotonic()
        except (*SERVER_ERRORS, FencedOutError) as error:
            log.warning("%s relay: cannot take the lead: %s", self.context, error)
            self.step_down()
            return False
        log.info("%s relay: leading at epoch %s from position %s", self.context, self.epoch, self.position)
        return True

    def renew(self) -> None:
        """Prove we still lead, and extend the lease (the lock's, then the heartbeat's); raises
        LeadershipLostError otherwise."""
        if self.is_leader and not self.lock.hold():
            self.step_down()
            raise LeadershipLostError(f"{self.context} relay lost its lock")
        self._fenced(RENEW, (self.context, self.epoch))

    def save(self, position: int, acked: dict[int, int] | None = None) -> None:
        """Record that everything up to `position` was acked, and the highest offset per
        partition if given (else as before); refused unless we still lead. Position 0 with
        `{}` starts the log over."""
        acked = self.acked if acked is None else acked
        self._fenced(SAVE, (position, Jsonb({str(p): o for p, o in acked.items()}), self.context, self.epoch))
        self.position, self.acked = position, dict(acked)

    def step_down(self) -> None:
        """Release the lock if we still held it, and close its session."""
        self.epoch = None
        self.lock.release()

    def _fenced(self, statement: str, params: tuple[Any, ...]) -> None:
        """On the lock's session, which a leader always has (once an advisory lock is gone, so
        is its session, and the write fails), past the lock's fence, matching the epoch."""
        if self.epoch is None or self.lock.fence is None:
            raise LeadershipLostError(f"{self.context} relay is not leading")
        epoch = self.epoch
        try:
            with fenced(self.lock.session, self.lock.fence):
                updated = self.lock.session.execute(statement, params).rowcount
        except FencedOutError as error:
            self.step_down()
            raise LeadershipLostError(f"{self.context} relay epoch {epoch}: {error}") from error
        except psycopg.Error as error:
            self.step_down()
            raise LeadershipLostError(f"{self.context} relay lost its lock connection: {error}") from error
        if updated != 1:
            self.step_down()
            raise LeadershipLostError(f"{self.context} relay epoch {epoch} was superseded")
        self.renewed_at = time.monotonic()

    def _depose_stale_holder(self, lock: AdvisoryLock) -> None:
        params = {"key": lock.key, "context": self.context, "lease": self.lease_s}
        if lock.session.execute(DEPOSE_STALE_HOLDER, params).fetchall():
            log.warning("%s relay: the holder missed its %ss lease; ended it", self.context, self.lease_s)


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
