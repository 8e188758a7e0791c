"""The lock port (`infrastructure/leadership.py`), held to one contract by both of its
implementations: one holder at a time, handed over on release, a higher token at every take,
and a holder that lost the lock without knowing (its PostgreSQL session ended, or its Redis
lease ran out while it was paused) told so by `hold` and fenced out of the writes the lock
guards, while its successor's land. A lock of another name or schema is another lock.

The Redis cases use the server at ORDERS_REDIS_URL (127.0.0.1:6379 by default), and are
skipped when none answers there. Their keys are named by the test's own schema, so that
concurrent runs do not meet, and are deleted after.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import redis
from support.isolation import isolated_settings, wait_until
from support.redis_keys import REDIS_URL, reachable_redis

from domain.ports import Fence, FencedOutError
from infrastructure.database import connect
from infrastructure.leadership import AdvisoryLock, Lock, RedisLock, fenced, lock_for, redis_key
from infrastructure.settings import Settings, SettingsError

pytestmark = pytest.mark.integration

NAME = "under-test"
LEASE_S = 0.5  # a Redis holder that stops renewing loses the lock after this
GUARDED = "CREATE TABLE IF NOT EXISTS guarded (name text PRIMARY KEY, writer text NOT NULL)"
WRITE = (
    "INSERT INTO guarded (name, writer) VALUES (%s, %s)"
    " ON CONFLICT (name) DO UPDATE SET writer = excluded.writer"
)


@contextmanager
def lock_settings(database_url: str, backend: str) -> Iterator[Settings]:
    """Settings in a schema of their own with the `backend` lock; for Redis, skipped unless it
    answers, and the schema's keys deleted after."""
    with isolated_settings(database_url, lock_backend=backend, redis_url=REDIS_URL) as settings:
        if backend == "postgres":
            yield settings
            return
        with reachable_redis(settings.postgres_schema):
            yield settings


@pytest.fixture(params=["postgres", "redis"])
def lock_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(database_url: str, lock_backend: str) -> Iterator[Settings]:
    with lock_settings(database_url, lock_backend) as settings:
        yield settings


@pytest.fixture
def locks(settings: Settings) -> Iterator[tuple[Lock, Lock]]:
    """Two contenders for one lock, as two processes would be."""
    first, second = lock_for(settings, NAME, LEASE_S), lock_for(settings, NAME, LEASE_S)
    yield first, second
    first.release()
    second.release()


def write(settings: Settings, fence: Fence, writer: str) -> None:
    """The write the lock guards, made as a store makes it: on a connection of its own."""
    with connect(settings, autocommit=True) as conn:
        conn.execute(GUARDED)
        with fenced(conn, fence):
            conn.execute(WRITE, (NAME, writer))


def written(settings: Settings) -> str | None:
    with connect(settings, autocommit=True) as conn:
        row = conn.execute("SELECT writer FROM guarded WHERE name = %s", (NAME,)).fetchone()
    return None if row is None else str(row[0])


def lose(lock: Lock, settings: Settings) -> None:
    """End `lock`'s hold behind its back: its session terminated by the server, or its Redis
    lease left to run out, as it does while the holder is paused."""
    if isinstance(lock, AdvisoryLock):
        with psycopg.connect(settings.database_url or "", autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (lock.session.info.backend_pid,))
        return
    assert isinstance(lock, RedisLock)
    with redis.Redis.from_url(settings.redis_url) as client:
        wait_until(lambda: client.exists(lock.key) == 0 or None, "the lease to run out", timeout_s=10)


def test_of_two_contenders_only_one_holds_the_lock(locks: tuple[Lock, Lock]) -> None:
    first, second = locks
    assert (first.take(), second.take()) == (True, False)
    assert (first.hold(), second.hold()) == (True, False)
    assert first.fence is not None and second.fence is None


def test_releasing_the_lock_hands_it_to_the_other(locks: tuple[Lock, Lock]) -> None:
    first, second = locks
    assert (first.hold(), second.hold()) == (True, False)
    first.release()
    assert first.fence is None
    assert (second.hold(), first.hold()) == (True, False)


def test_every_take_gets_a_higher_token(locks: tuple[Lock, Lock]) -> None:
    first, second = locks
    tokens = []
    for lock in (first, second, first):
        assert lock.take()
        assert lock.fence is not None
        tokens.append(lock.fence.token)
        lock.release()
    assert tokens == sorted(set(tokens)), tokens


def test_a_holder_that_lost_the_lock_is_told_so_and_its_writes_are_refused(
    settings: Settings, locks: tuple[Lock, Lock]
) -> None:
    first, second = locks
    assert first.take()
    assert first.fence is not None
    stale = first.fence
    write(settings, stale, "first")

    lose(first, settings)
    wait_until(lambda: second.take() or None, "the other to take the lock", timeout_s=10)
    assert second.fence is not None and second.fence.token > stale.token
    with pytest.raises(FencedOutError):
        write(settings, stale, "first, after losing the lock")
    write(settings, second.fence, "second")
    with pytest.raises(FencedOutError):
        write(settings, stale, "first, after its successor wrote")

    assert not first.hold(), "the lock went with the session, or with the lease"
    assert written(settings) == "second"


def test_a_lock_of_another_schema_or_another_name_is_another_lock(
    settings: Settings, database_url: str, lock_backend: str
) -> None:
    with lock_settings(database_url, lock_backend) as other:
        here, elsewhere = lock_for(settings, NAME, LEASE_S), lock_for(other, NAME, LEASE_S)
        renamed = lock_for(settings, f"{NAME}-2", LEASE_S)
        try:
            assert (here.take(), elsewhere.take(), renamed.take()) == (True, True, True)
            for _ in range(3):  # `here`'s tokens move on; `renamed`'s fence is not passed by them
                here.release()
                assert here.take() and here.fence is not None
                write(settings, here.fence, "here")
            assert renamed.fence is not None and elsewhere.fence is not None
            write(settings, renamed.fence, "renamed")
            write(other, elsewhere.fence, "elsewhere")
        finally:
            for lock in (here, elsewhere, renamed):
                lock.release()


@pytest.mark.parametrize("lock_backend", ["redis"])
def test_a_redis_that_lost_its_counter_still_counts_up(settings: Settings, locks: tuple[Lock, Lock]) -> None:
    first, second = locks
    assert first.take() and first.fence is not None
    before = first.fence.token
    first.release()
    with redis.Redis.from_url(settings.redis_url) as client:
        client.delete(redis_key(settings.postgres_schema, f"{NAME}:fence"))
    assert second.take() and second.fence is not None
    assert second.fence.token > before


@pytest.mark.parametrize("lock_backend", ["postgres"])
def test_the_advisory_lock_is_held_by_its_session_under_a_stable_bigint_key(
    settings: Settings, locks: tuple[Lock, Lock]
) -> None:
    first, _ = locks
    assert isinstance(first, AdvisoryLock)
    assert first.take()
    assert first.key == AdvisoryLock(settings, NAME).key and 0 <= first.key < 2**63
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        holders = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND ((classid::bigint << 32) | objid::bigint) = %s",
            (first.key,),
        ).fetchall()
    assert holders == [(first.session.info.backend_pid,)]


@pytest.mark.parametrize(
    ("variable", "value"), [("ORDERS_LOCK_BACKEND", "zookeeper"), ("ORDERS_REDIS_URL", "http://:s3cr3t@h")]
)
def test_a_lock_setting_that_is_not_usable_is_refused_in_one_line(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{variable}\b") as refused:
        Settings.from_env({variable: value})
    assert "\n" not in str(refused.value) and "s3cr3t" not in str(refused.value)
