"""The PostgreSQL-backed provider simulator keeps its own idempotency keys."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from domain.money import Money
from domain.ports import ProviderTimeoutError
from infrastructure.ledger_provider import LedgerPaymentProvider
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def provider(database_url: str) -> Iterator[LedgerPaymentProvider]:
    schema = f"psp_{uuid.uuid4().hex[:10]}"
    yield LedgerPaymentProvider(Settings(database_url=database_url), schema=schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_twenty_concurrent_authorizations_with_one_key_charge_once(provider: LedgerPaymentProvider) -> None:
    def authorize(_: int) -> str:
        return provider.authorize(
            idempotency_key="pay-1:authorize", amount=Money(900, "EUR"), token="tok_ok"
        ).reference

    with ThreadPoolExecutor(8) as pool:
        references = set(pool.map(authorize, range(20)))

    assert len(references) == 1
    assert provider.operations("authorize") == [("pay-1:authorize", 900)]


def test_a_lost_answer_is_answered_on_retry_without_charging_again(provider: LedgerPaymentProvider) -> None:
    ask = {
        "idempotency_key": "pay-2:authorize",
        "amount": Money(500, "EUR"),
        "token": "tok_timeout_after_charge",
    }
    with pytest.raises(ProviderTimeoutError):
        provider.authorize(**ask)
    assert provider.operations("authorize") == [("pay-2:authorize", 500)]  # charged before the timeout

    assert provider.authorize(**ask).status == "approved"
    assert provider.operations("authorize") == [("pay-2:authorize", 500)]


def test_a_declined_token_moves_no_money(provider: LedgerPaymentProvider) -> None:
    reply = provider.authorize(
        idempotency_key="pay-3:authorize", amount=Money(500, "EUR"), token="tok_decline"
    )
    assert (reply.status, reply.reason) == ("declined", "card declined")
    assert provider.operations("authorize") == []
