"""The idempotency store's contract, in memory (the same tests run on PostgreSQL in
tests/integration/test_idempotency_store_postgres.py)."""

import pytest
from support.idempotency_store import IdempotencyStoreContract

from infrastructure.idempotency_store import InMemoryIdempotencyStore


class TestInMemoryIdempotencyStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryIdempotencyStore:
        return InMemoryIdempotencyStore()
