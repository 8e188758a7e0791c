"""One active relay per context: a standby takes over, and a relay that lost its lock can
neither publish nor move the stored position (fencing). With the PostgreSQL lock, and with
the Redis lock (those cases are skipped when no Redis answers at ORDERS_REDIS_URL)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from support.redis_keys import REDIS_URL, reachable_redis
from support.relaying import (
    CONTEXT,
    FAST,
    RelayWorld,
    Running,
    event_ids,
    lock_holders,
    read_topic,
    relay_for,
    relay_world,
    restock,
    stored_events,
    stored_position,
    wait_for,
    wait_until_published,
)

from infrastructure.relay import Leadership, LeadershipLostError, RelayOptions, advisory_key

pytestmark = pytest.mark.integration


@pytest.fixture
def world(database_url: str, kafka_bootstrap_servers: str) -> Iterator[RelayWorld]:
    with relay_world(database_url, kafka_bootstrap_servers) as world:
        yield world


def published_once(world: RelayWorld) -> bool:
    published = event_ids(read_topic(world.settings))
    return sorted(published) == sorted(e.event_id for e in stored_events(world.settings))


def test_of_two_relays_one_leads_and_each_event_is_published_once(world: RelayWorld) -> None:
    restock(world.system, skus=4, rounds=2)
    first, second = Running(relay_for(world)), Running(relay_for(world))
    with first as a, second as b:
        wait_until_published(world.settings)
        assert [a.is_leader, b.is_leader].count(True) == 1
        assert len(lock_holders(world.settings)) == 1
        assert published_once(world)

        leader, successor = (first, b) if a.is_leader else (second, a)
        leader.stop()
        restock(world.system, skus=6)
        wait_until_published(world.settings)
        assert successor.is_leader
    assert published_once(world)
    assert stored_position(world.settings)[1] == 2, "the successor took the next epoch"


def test_a_relay_whose_lock_session_is_terminated_publishes_nothing_until_it_leads_again(
    world: RelayWorld,
) -> None:
    patient = RelayOptions(poll_interval_s=0.2, standby_retry_s=0.1, heartbeat_interval_s=30.0, lease_s=60.0)
    restock(world.system, skus=2)
    with Running(relay_for(world, patient)) as relay, lock_thief(world) as thief:
        wait_until_published(world.settings)
        position = stored_position(world.settings)
        thief.terminate_holder_and_hold()

        restock(world.system, skus=3)
        wait_for(lambda: not relay.is_leader, "the relay to notice it lost the lock")
        assert stored_position(world.settings) == position
        assert len(read_topic(world.settings)) == 4, "nothing published without the lock"

        thief.release()
        wait_until_published(world.settings)
    assert published_once(world), "the events held back were published exactly once"
    assert stored_position(world.settings)[1] == position[1] + 1


def test_a_standby_deposes_a_holder_past_its_lease_whose_position_write_is_then_refused(
    world: RelayWorld,
) -> None:
    holder = Leadership(world.settings, CONTEXT, "paused holder", lease_s=1.0)
    standby = Leadership(world.settings, CONTEXT, "standby", lease_s=1.0)
    assert holder.try_acquire()
    holder.save(3)
    assert not standby.try_acquire(), "the holder's heartbeat is fresh"

    wait_for(standby.try_acquire, "the standby to take over after the lease", timeout_s=10)
    with pytest.raises(LeadershipLostError):
        holder.save(7)
    assert stored_position(world.settings) == (3, 2)
    assert standby.position == 3 and not holder.is_leader
    standby.step_down()


def test_a_position_write_under_a_superseded_epoch_is_refused(world: RelayWorld) -> None:
    leader = Leadership(world.settings, CONTEXT, "leader", lease_s=FAST.lease_s)
    assert leader.try_acquire()
    with psycopg.connect(str(world.settings.database_url)) as conn:
        conn.execute(f"UPDATE {world.settings.postgres_schema}.relay_positions SET epoch = epoch + 1")
    with pytest.raises(LeadershipLostError):
        leader.save(5)
    assert stored_position(world.settings) == (0, 2)


class LockThief:
    """The test's own session: terminates the relay's lock session, then holds the lock."""

    def __init__(self, world: RelayWorld, conn: psycopg.Connection[Any]) -> None:
        self.world = world
        self.conn = conn
        self.key = advisory_key(world.settings.postgres_schema, CONTEXT)

    def terminate_holder_and_hold(self) -> None:
        for pid in lock_holders(self.world.settings):
            self.conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        self.conn.execute("SET lock_timeout = '10s'")
        self.conn.execute("SELECT pg_advisory_lock(%s)", (self.key,))

    def release(self) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))


@contextmanager
def lock_thief(world: RelayWorld) -> Iterator[LockThief]:
    with psycopg.connect(str(world.settings.database_url), autocommit=True) as conn:
        yield LockThief(world, conn)


@pytest.fixture
def redis_world(world: RelayWorld) -> Iterator[RelayWorld]:
    """`world` with the Redis lock; skipped unless Redis answers, the schema's keys deleted after."""
    with reachable_redis(world.settings.postgres_schema):
        yield RelayWorld(world.settings.replace(lock_backend="redis", redis_url=REDIS_URL), world.system)


def test_with_the_redis_lock_one_of_two_relays_leads_and_each_event_is_published_once(
    redis_world: RelayWorld,
) -> None:
    restock(redis_world.system, skus=4, rounds=2)
    first, second = Running(relay_for(redis_world)), Running(relay_for(redis_world))
    with first as a, second as b:
        wait_until_published(redis_world.settings)
        assert [a.is_leader, b.is_leader].count(True) == 1
        assert lock_holders(redis_world.settings) == [], "no advisory lock is held"

        leader, successor = (first, b) if a.is_leader else (second, a)
        leader.stop()
        restock(redis_world.system, skus=6)
        wait_until_published(redis_world.settings)
        assert successor.is_leader
    assert published_once(redis_world)
    assert stored_position(redis_world.settings)[1] == 2, "the successor took the next epoch"


def test_with_the_redis_lock_a_standby_takes_over_once_the_holders_lease_runs_out_and_refuses_its_write(
    redis_world: RelayWorld,
) -> None:
    holder = Leadership(redis_world.settings, CONTEXT, "paused holder", lease_s=1.0)
    standby = Leadership(redis_world.settings, CONTEXT, "standby", lease_s=1.0)
    assert holder.try_acquire()
    holder.save(3)
    assert not standby.try_acquire(), "the holder's lease runs"

    wait_for(standby.try_acquire, "the standby to take over after the lease", timeout_s=10)
    with pytest.raises(LeadershipLostError, match="lock was taken again"):  # the fence refuses it
        holder.save(7)
    assert stored_position(redis_world.settings) == (3, 2)
    assert standby.position == 3 and not holder.is_leader
    standby.step_down()
