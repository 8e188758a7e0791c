"""The Redis the lock tests use: the one the settings name (here and in CI, 127.0.0.1:6379).

`reachable_redis(schema)` yields a client, or skips the test saying that Redis is not
reachable, and deletes every lock key of `schema` afterwards, so runs in other schemas are
left alone."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from infrastructure.leadership import redis_key
from infrastructure.settings import Settings

REDIS_URL = Settings.from_env().redis_url


@contextmanager
def reachable_redis(schema: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {REDIS_URL} not reachable: {error}")
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=redis_key(schema, "*")))
        if keys:
            client.delete(*keys)
        client.close()
