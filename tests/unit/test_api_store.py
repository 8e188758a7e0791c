"""The idempotency store's contract, in memory (the same tests run on PostgreSQL in
tests/integration/test_idempotency_store_postgres.py); and that a claim whose lease lapsed is
taken over only by a retry of its own request (on PostgreSQL: test_api_store_postgres.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from support.idempotency_store import LONG, IdempotencyStoreContract, scope

from infrastructure.idempotency_store import InMemoryIdempotencyStore


class TestInMemoryIdempotencyStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryIdempotencyStore:
        return InMemoryIdempotencyStore()


def test_a_lapsed_claim_is_taken_over_only_by_a_retry_of_its_own_request() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store, s = InMemoryIdempotencyStore(clock=lambda: now), scope()
    store.claim(s, "first", "crashed", timedelta(seconds=30), LONG)
    now += timedelta(minutes=1)  # the claim's process died; its lease lapsed

    other = store.claim(s, "another body", "other", LONG, LONG)

    assert other is not None
    assert (other.fingerprint, other.response) == ("first", None)
    assert store.claim(s, "first", "retry", LONG, LONG) is None
