"""On PostgreSQL, a claim whose lease lapsed is taken over only by a retry of its own request:
the claim statement leaves it to another fingerprint untouched (in memory:
tests/unit/test_api_store.py)."""

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from support.idempotency_store import LONG, scope
from support.isolation import isolated_settings

from infrastructure.idempotency_store import PostgresIdempotencyStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_url: str) -> Iterator[PostgresIdempotencyStore]:
    with isolated_settings(database_url) as settings:
        store = PostgresIdempotencyStore(settings)
        yield store
        store.close()


def test_a_lapsed_claim_is_taken_over_only_by_a_retry_of_its_own_request(
    store: PostgresIdempotencyStore,
) -> None:
    s = scope()
    store.claim(s, "first", "crashed", timedelta(milliseconds=50), LONG)
    time.sleep(0.2)  # the claim's process died; its lease lapses by the server's clock

    other = store.claim(s, "another body", "other", LONG, LONG)

    assert other is not None
    assert (other.fingerprint, other.response) == ("first", None)
    assert store.claim(s, "first", "retry", LONG, LONG) is None
