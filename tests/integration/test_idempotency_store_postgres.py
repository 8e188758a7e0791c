"""The idempotency store's contract on PostgreSQL: the claim is one atomic statement, so of
concurrent claims exactly one wins, and leases and expiry follow the database's clock."""

from collections.abc import Iterator

import pytest
from support.idempotency_store import IdempotencyStoreContract
from support.isolation import isolated_settings

from infrastructure.idempotency_store import PostgresIdempotencyStore

pytestmark = pytest.mark.integration


class TestPostgresIdempotencyStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self, database_url: str) -> Iterator[PostgresIdempotencyStore]:
        with isolated_settings(database_url) as settings:
            store = PostgresIdempotencyStore(settings)
            yield store
            store.close()
