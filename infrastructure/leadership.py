"""Which process of several may act alone: the holder of a named lock, and the fence that
keeps one that lost the lock without knowing from writing.

A lock cannot stop a holder that is paused (SIGSTOP, a hung host) or cut off past its lease:
another process takes the lock, and the first wakes up and finishes the write it was making.
So every take gets a fence (`domain.ports.Fence`): a token higher than any taken before for
that name. The writes the lock guards are made `fenced`: in their transaction, the token
must be at least the highest recorded for the name in `lock_fences`, and becomes it. A take
records its token before it returns, so from then on a write of any earlier holder raises
FencedOutError and changes nothing. The fences are kept in PostgreSQL, beside the writes they
guard, whichever server holds the lock; each lock keeps them on a session of its own.

`Lock` is the port; `lock_for` makes the one ORDERS_LOCK_BACKEND names:

- postgres (the default): `AdvisoryLock`, a session-level PostgreSQL advisory lock taken on
  that session. It lives as long as the session, so a holder that crashes, is terminated or
  loses the network releases it without anyone cleaning up; a holder gives it up by unlocking
  it and ending the session. It cannot expire: a paused holder keeps it until someone ends
  its session (the relay's standbys do, past the lease). Its tokens are counted in its row of
  `lock_fences`, bumped on take. The key comes from the schema and the lock's name:
  deployments sharing a database in different schemas (the tests do) do not block each
  other. It is a non-negative 63-bit integer, so the holder can be found in `pg_locks`,
  where a bigint key shows as `classid` (the high 32 bits) and `objid` (the low ones) with
  `objsubid` 1.
- redis: `RedisLock`, `SET key token NX PX lease` with the token from `INCR key:fence`, in
  one script that never issues a token below the highest PostgreSQL has recorded (a Redis
  that lost its data still counts up). Only its holder extends the lease (compare and
  extend) or deletes the key (compare and delete); a holder that stops renewing loses the
  lock when the lease runs out, paused or not. Keys are named by schema and lock name too:
  deployments sharing a Redis need schemas of their own, or a Redis database each.
"""

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Protocol

import psycopg
import redis
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

from domain.ports import Fence, FencedOutError
from infrastructure.database import DDL_LOCK_KEY, connect
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

# How long a Redis lock outlives a holder that stops renewing it, unless its user says.
DEFAULT_LEASE_S = 10.0
# How long one Redis request may take, tried twice at most: a holder must learn that it
# cannot renew well within its lease, not after the client's own backoff.
REDIS_TIMEOUT_S = 1.0
# What `take` raises, and `hold` reports and turns into False, when a server fails the lock.
SERVER_ERRORS = (psycopg.Error, redis.RedisError)

CREATE_FENCES = "CREATE TABLE IF NOT EXISTS lock_fences (name text PRIMARY KEY, token bigint NOT NULL)"
# One row if the token is at least the highest of its name, which it then is. The row stays
# locked until the write's transaction ends, so no write of an earlier holder lands after one
# of a later holder.
PASS_FENCE = """
INSERT INTO lock_fences AS f (name, token) VALUES (%s, %s)
ON CONFLICT (name) DO UPDATE SET token = excluded.token WHERE f.token <= excluded.token"""
NEXT_TOKEN = """
INSERT INTO lock_fences AS f (name, token) VALUES (%s, 1)
ON CONFLICT (name) DO UPDATE SET token = f.token + 1 RETURNING token"""
HIGHEST_TOKEN = "SELECT coalesce(max(token), 0) FROM lock_fences WHERE name = %s"

# KEYS: the lock, its counter; ARGV: the highest token recorded, the lease in ms.
TAKE_IF_FREE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = math.max(redis.call('INCR', KEYS[2]), tonumber(ARGV[1]) + 1)
redis.call('SET', KEYS[2], token)
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token"""
# KEYS: the lock; ARGV: the holder's token (and the lease in ms).
EXTEND_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0"""
DELETE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0"""


class Lock(Protocol):
    """A lock on `name` that one process of several holds at a time, each take with a fence."""

    name: str

    @property
    def fence(self) -> Fence | None:
        """This hold's fence, for the writes the lock guards (`fenced`); None while not held."""
        ...

    @property
    def session(self) -> psycopg.Connection[Any]:
        """The PostgreSQL session the lock keeps its fences on; there while it holds or tries."""
        ...

    def take(self) -> bool:
        """Take the lock with a new fence if it is free; False while another process holds it.
        A server that fails raises one of SERVER_ERRORS, leaving nothing held."""
        ...

    def hold(self) -> bool:
        """True while this process holds the lock, which it renews; tries to take it if not.
        A lock found lost or a server that fails is False, and one line in the log."""
        ...

    def release(self) -> None:
        """Give the lock up (or stop trying for it)."""
        ...


def lock_for(settings: Settings, name: str, lease_s: float = DEFAULT_LEASE_S) -> Lock:
    """The lock `name` on the server the settings choose. `lease_s` is how long a Redis lock
    outlives a holder that stops renewing it; a PostgreSQL lock lasts as long as its session."""
    if settings.lock_backend == "redis":
        return RedisLock(settings, name, lease_s)
    return AdvisoryLock(settings, name)


@contextmanager
def fenced(conn: psycopg.Connection[Any], fence: Fence) -> Iterator[None]:
    """A transaction on `conn` for writes that only the holder of `fence` may make: it starts
    by passing the fence, and raises FencedOutError instead once a later holder took the lock."""
    with conn.transaction():
        pass_fence(conn, fence)
        yield


def pass_fence(conn: psycopg.Connection[Any], fence: Fence) -> None:
    """Record `fence` as the highest of its lock, or raise FencedOutError if a higher one is."""
    if conn.execute(PASS_FENCE, (fence.name, fence.token)).rowcount != 1:
        raise FencedOutError(f"the {fence.name} lock was taken again since token {fence.token}")


def lock_key(schema: str, name: str) -> int:
    """A stable, non-negative 63-bit advisory lock key per (schema, name)."""
    digest = hashlib.blake2b(f"{schema}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


def redis_key(schema: str, name: str) -> str:
    """The Redis key of the lock `name` in `schema`; its token counter is `<key>:fence`."""
    return f"orders-lock:{schema}:{name}"


class _FencedLock(ABC):
    """What both locks share: the session their fences are kept on, `take` and `hold`."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self._conn: psycopg.Connection[Any] | None = None
        self._fence: Fence | None = None
        self._failing = False  # a server failed the last try: said once, not at every try

    @property
    def fence(self) -> Fence | None:
        return self._fence

    @property
    def session(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError(f"the {self.name} lock has no session: take it first")
        return self._conn

    def take(self) -> bool:
        if self._fence is not None:
            return self.hold()
        try:
            if self._conn is None or self._conn.closed:
                self._conn = _fence_session(self.settings)
            self._fence = self._take_if_free(self._conn)
        except SERVER_ERRORS:
            self.release()
            raise
        return self._fence is not None

    def hold(self) -> bool:
        if self._fence is None:
            try:
                taken = self.take()
            except SERVER_ERRORS as error:
                if not self._failing:
                    log.warning("the %s lock cannot be taken: %s", self.name, _described(error))
                self._failing = True
                return False
            self._failing = False
            return taken
        try:
            if self._renew():
                return True
            reason = "its lease ran out"
        except SERVER_ERRORS as error:
            reason = _described(error)
            self._failing = True
        log.warning("lost the %s lock: %s", self.name, reason)
        self.release()
        return False

    def release(self) -> None:
        """Give the lock up (or stop trying for it); the session ends."""
        if self._conn is not None:
            self._conn.close()
        self._conn, self._fence = None, None

    @abstractmethod
    def _take_if_free(self, session: psycopg.Connection[Any]) -> Fence | None:
        """Take the lock if it is free, and its fence with it, recorded on `session`."""

    @abstractmethod
    def _renew(self) -> bool:
        """Whether the lock is still held, extending its lease where it has one."""


class AdvisoryLock(_FencedLock):
    """One process's claim on the advisory lock `name` in the settings' schema."""

    def __init__(self, settings: Settings, name: str) -> None:
        super().__init__(settings, name)
        self.key = lock_key(settings.postgres_schema, name)

    def release(self) -> None:
        """Give the lock up (or stop trying for it): unlocked, so that it is free as soon as
        this returns (the server frees it with the session too, but only once the backend has
        exited), and the session ended."""
        if self._fence is not None:
            with suppress(psycopg.Error):
                self.session.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        super().release()

    def _take_if_free(self, session: psycopg.Connection[Any]) -> Fence | None:
        row = session.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if not (row and row[0]):
            return None
        return Fence(self.name, _scalar(session, NEXT_TOKEN, self.name))

    def _renew(self) -> bool:
        self.session.execute("SELECT 1")  # the session, and so the lock, is still there
        return True


class RedisLock(_FencedLock):
    """One process's claim on the Redis lock `name` in the settings' schema, leased for
    `lease_s` from every take and renewal."""

    def __init__(self, settings: Settings, name: str, lease_s: float) -> None:
        super().__init__(settings, name)
        self.key = redis_key(settings.postgres_schema, name)
        self.lease_ms = max(1, round(lease_s * 1000))
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), retries=1),
        )
        self._take_script = client.register_script(TAKE_IF_FREE)
        self._extend_script = client.register_script(EXTEND_IF_OURS)
        self._delete_script = client.register_script(DELETE_IF_OURS)

    def release(self) -> None:
        """Give the lock up (or stop trying for it): its key is deleted if it is still ours
        (a Redis that cannot be reached lets it expire instead), and the session ends."""
        if self._fence is not None:
            with suppress(redis.RedisError):
                self._delete_script(keys=[self.key], args=[self._fence.token])
        super().release()

    def _take_if_free(self, session: psycopg.Connection[Any]) -> Fence | None:
        highest = _scalar(session, HIGHEST_TOKEN, self.name)
        token = self._take_script(keys=[self.key, f"{self.key}:fence"], args=[highest, self.lease_ms])
        if token is None:
            return None
        fence = Fence(self.name, int(token))
        try:
            pass_fence(session, fence)
        except FencedOutError:  # paused past the lease between the two: a later take came first
            self._delete_script(keys=[self.key], args=[fence.token])
            return None
        return fence

    def _renew(self) -> bool:
        assert self._fence is not None
        return bool(self._extend_script(keys=[self.key], args=[self._fence.token, self.lease_ms]))


def _fence_session(settings: Settings) -> psycopg.Connection[Any]:
    """A session of the lock's own in the settings' schema, which it creates, with the fences'
    table, if missing (concurrent DDL collides on the catalogue: the shared DDL lock orders it)."""
    conn = connect(settings, autocommit=True)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
            if settings.postgres_schema:
                schema = sql.Identifier(settings.postgres_schema)
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            conn.execute(CREATE_FENCES)
    except psycopg.Error:
        conn.close()
        raise
    return conn


def _scalar(conn: psycopg.Connection[Any], query: str, name: str) -> int:
    row = conn.execute(query, (name,)).fetchone()
    assert row is not None, query
    return int(row[0])


def _described(error: Exception) -> str:
    """One line that names the server (Redis's client does not)."""
    server = "Redis" if isinstance(error, redis.RedisError) else "PostgreSQL"
    return f"{server}: {' '.join(str(error).split())}"
