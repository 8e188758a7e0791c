"""The PostgreSQL-backed provider simulator keeps its own idempotency keys."""

import functools
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from domain.money import Money
from domain.ports import ProviderReply, ProviderTimeoutError
from infrastructure.gateways.payments import LedgerPaymentProvider
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def provider(database_url: str) -> Iterator[LedgerPaymentProvider]:
    schema = f"psp_{uuid.uuid4().hex[:10]}"
    yield LedgerPaymentProvider(Settings(database_url=database_url), schema=schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def approved(provider: LedgerPaymentProvider, order_id: str) -> list[tuple[str, int]]:
    """(key, cents) of the order's approved operations at the provider: what really happened."""
    charges = provider.ledger.charges(order_id)
    return [(c.idempotency_key, c.amount_cents) for c in charges if c.status == "approved"]


def test_twenty_concurrent_authorizations_with_one_key_charge_once(provider: LedgerPaymentProvider) -> None:
    def authorize(_: int) -> str:
        return provider.authorize(
            idempotency_key="pay-1:authorize", amount=Money(900, "EUR"), token="tok_ok", order_id="order-1"
        ).reference

    with ThreadPoolExecutor(8) as pool:
        references = set(pool.map(authorize, range(20)))

    assert len(references) == 1
    assert approved(provider, "order-1") == [("pay-1:authorize", 900)]


def test_a_lost_answer_is_answered_on_retry_without_charging_again(provider: LedgerPaymentProvider) -> None:
    ask = functools.partial(
        provider.authorize,
        idempotency_key="pay-2:authorize",
        amount=Money(500, "EUR"),
        token="tok_timeout_after_charge",
        order_id="order-2",
    )
    with pytest.raises(ProviderTimeoutError):
        ask()
    assert approved(provider, "order-2") == [("pay-2:authorize", 500)]  # charged before the timeout

    assert ask().status == "approved"
    assert approved(provider, "order-2") == [("pay-2:authorize", 500)]


def test_a_server_error_before_charging_is_reported_as_no_answer_and_charges_on_retry(
    provider: LedgerPaymentProvider,
) -> None:
    ask = functools.partial(
        provider.authorize,
        idempotency_key="pay-4:authorize",
        amount=Money(300, "EUR"),
        token="tok_error_before_charge",
        order_id="order-4",
    )
    with pytest.raises(ProviderTimeoutError):
        ask()
    assert approved(provider, "order-4") == []

    assert ask().status == "approved"
    assert approved(provider, "order-4") == [("pay-4:authorize", 300)]


def test_a_declined_token_moves_no_money(provider: LedgerPaymentProvider) -> None:
    reply = provider.authorize(
        idempotency_key="pay-3:authorize", amount=Money(500, "EUR"), token="tok_decline", order_id="order-3"
    )
    assert (reply.status, reply.reason) == ("declined", "card declined")
    assert approved(provider, "order-3") == []


def race_capture_and_void(
    provider: LedgerPaymentProvider, payment: str, reference: str
) -> list[ProviderReply]:
    """A capture and a void of one authorization, in two threads released together."""
    start = threading.Barrier(2)

    def ask(operation: str) -> ProviderReply:
        start.wait()
        key = f"{payment}:{operation}"
        if operation == "capture":
            return provider.capture(idempotency_key=key, reference=reference, amount=Money(700, "EUR"))
        return provider.void(idempotency_key=key, reference=reference)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(ask, ["capture", "void"]))


def test_a_capture_and_a_void_racing_in_process_approve_exactly_one(
    provider: LedgerPaymentProvider, database_url: str
) -> None:
    query = sql.SQL("SELECT status, count(*) FROM {}.operations WHERE authorization_ref = %s GROUP BY status")
    for round_ in range(5):
        reference = provider.authorize(
            idempotency_key=f"pay-{round_}:authorize",
            amount=Money(700, "EUR"),
            token="tok_ok",
            order_id="o-5",
        ).reference

        replies = race_capture_and_void(provider, f"pay-{round_}", reference)

        assert sorted(reply.status for reply in replies) == ["approved", "refused"]
        with psycopg.connect(database_url) as conn:
            counted = dict(conn.execute(query.format(sql.Identifier(provider.ledger.schema)), (reference,)))
        assert counted == {"approved": 1, "refused": 1}


def test_a_refusal_is_in_the_ledger_as_refused_and_only_approved_rows_move_money(
    provider: LedgerPaymentProvider,
) -> None:
    reference = provider.authorize(
        idempotency_key="pay-6:authorize", amount=Money(900, "EUR"), token="tok_ok", order_id="order-6"
    ).reference
    provider.void(idempotency_key="pay-6:void", reference=reference)
    refused = provider.capture(idempotency_key="pay-6:capture", reference=reference, amount=Money(900, "EUR"))

    rows = {c.idempotency_key: (c.status, c.refusal) for c in provider.ledger.charges("order-6")}
    assert rows == {
        "pay-6:authorize": ("approved", ""),
        "pay-6:void": ("approved", ""),
        "pay-6:capture": ("refused", "authorization-voided"),
    }
    assert (refused.status, refused.reason) == ("refused", "cannot capture: the authorization is voided")
    assert approved(provider, "order-6") == [("pay-6:authorize", 900), ("pay-6:void", 0)]
