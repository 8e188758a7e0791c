"""One contract for every `PaymentProvider`: the HTTP client against the simulator, the ledger
called in process, and the in-memory fake refuse the same requests the same way.

Per authorization: one capture of at most the authorized amount, unless voided; one void,
unless captured; refunds only of what is captured. A refusal is a "refused" reply with a
stable code, moves no money, and is its key's answer from then on. A request that is wrong
(an unknown authorization, a reused key, another currency) raises `RequestRejectedError`.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import psycopg
import pytest
from support.simulators import psp_simulator

from domain.money import Money
from domain.ports import PaymentProvider, ProviderReply, RequestRejectedError
from infrastructure.gateways import RetryPolicy
from infrastructure.gateways.payments import (
    HttpPaymentProvider,
    InMemoryPaymentProvider,
    LedgerPaymentProvider,
)
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration

EUR = "EUR"


@dataclass
class Psp:
    provider: PaymentProvider
    approved: Callable[[str], list[tuple[str, int]]]  # (operation, cents) of an order, money moved
    order_id: str = ""

    def authorized(self, cents: int = 1000) -> str:
        """A new order's approved authorization; its reference."""
        self.order_id = f"order-{uuid.uuid4()}"
        reply = self.provider.authorize(
            idempotency_key=f"{self.order_id}:authorize",
            amount=Money(cents, EUR),
            token="tok_ok",
            order_id=self.order_id,
        )
        assert reply.status == "approved"
        return reply.reference

    def moved(self) -> list[tuple[str, int]]:
        return sorted(self.approved(self.order_id))


@pytest.fixture(params=["http", "ledger", "memory"])
def psp(request: pytest.FixtureRequest) -> Iterator[Psp]:
    if request.param == "memory":
        memory = InMemoryPaymentProvider()
        kinds = ("authorize", "capture", "void", "refund")
        yield Psp(memory, lambda _: [(kind, cents) for kind in kinds for _, cents in memory.operations(kind)])
        return
    database_url: str = request.getfixturevalue("database_url")
    with ExitStack() as stack:
        if request.param == "http":
            served = stack.enter_context(psp_simulator(database_url))
            client = HttpPaymentProvider(served.url, RetryPolicy(timeout_s=5, attempts=1))
            stack.callback(client.close)
            yield Psp(
                client, lambda order: [(c["operation"], c["amount_cents"]) for c in served.charges(order)]
            )
        else:
            schema = f"psp_{uuid.uuid4().hex[:10]}"
            stack.callback(_drop, database_url, schema)
            ledger = LedgerPaymentProvider(Settings(database_url=database_url), schema)
            yield Psp(ledger, lambda order: _approved(ledger, order))


def _approved(ledger: LedgerPaymentProvider, order_id: str) -> list[tuple[str, int]]:
    return [(c.operation, c.amount_cents) for c in ledger.ledger.charges(order_id) if c.status == "approved"]


def _drop(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def capture(psp: Psp, key: str, reference: str, cents: int = 1000, currency: str = EUR) -> ProviderReply:
    return psp.provider.capture(idempotency_key=key, reference=reference, amount=Money(cents, currency))


def void(psp: Psp, key: str, reference: str) -> ProviderReply:
    return psp.provider.void(idempotency_key=key, reference=reference)


def refund(psp: Psp, key: str, reference: str, cents: int) -> ProviderReply:
    return psp.provider.refund(idempotency_key=key, reference=reference, amount=Money(cents, EUR))


def refused(reply: ProviderReply) -> tuple[str, str]:
    assert reply.reason and reply.reference
    return reply.status, reply.code


def test_a_capture_after_a_void_is_refused_and_moves_no_money(psp: Psp) -> None:
    ref = psp.authorized()
    assert void(psp, "void-1", ref).status == "approved"

    assert refused(capture(psp, "capture-1", ref)) == ("refused", "authorization-voided")
    assert psp.moved() == [("authorize", 1000), ("void", 0)]


def test_a_void_after_a_capture_is_refused(psp: Psp) -> None:
    ref = psp.authorized()
    assert capture(psp, "capture-1", ref).status == "approved"

    assert refused(void(psp, "void-1", ref)) == ("refused", "authorization-captured")
    assert psp.moved() == [("authorize", 1000), ("capture", 1000)]


def test_a_second_capture_or_void_under_another_key_is_refused(psp: Psp) -> None:
    captured, voided = psp.authorized(), psp.authorized()
    capture(psp, "capture-1", captured)
    void(psp, "void-1", voided)

    assert refused(capture(psp, "capture-2", captured)) == ("refused", "authorization-captured")
    assert refused(void(psp, "void-2", voided)) == ("refused", "authorization-voided")


def test_a_capture_above_the_authorized_amount_is_refused_and_takes_nothing(psp: Psp) -> None:
    ref = psp.authorized(1000)

    assert refused(capture(psp, "capture-1", ref, cents=1001)) == ("refused", "amount-above-authorized")
    assert capture(psp, "capture-2", ref, cents=1000).status == "approved"
    assert psp.moved() == [("authorize", 1000), ("capture", 1000)]


def test_a_capture_may_take_part_of_the_authorized_amount(psp: Psp) -> None:
    ref = psp.authorized(1000)

    assert capture(psp, "capture-1", ref, cents=400).status == "approved"
    assert refused(refund(psp, "refund-1", ref, 401)) == ("refused", "amount-above-captured")
    assert psp.moved() == [("authorize", 1000), ("capture", 400)]


def test_only_a_captured_authorization_is_refunded(psp: Psp) -> None:
    authorized, voided = psp.authorized(), psp.authorized()
    void(psp, "void-1", voided)

    assert refused(refund(psp, "refund-1", authorized, 100)) == ("refused", "not-captured")
    assert refused(refund(psp, "refund-2", voided, 100)) == ("refused", "not-captured")


def test_refunds_never_sum_to_more_than_was_captured(psp: Psp) -> None:
    ref = psp.authorized(1000)
    capture(psp, "capture-1", ref, cents=1000)

    assert refused(refund(psp, "refund-1", ref, 1001)) == ("refused", "amount-above-captured")
    assert refund(psp, "refund-2", ref, 700).status == "approved"
    assert refused(refund(psp, "refund-3", ref, 301)) == ("refused", "amount-above-captured")
    assert refund(psp, "refund-4", ref, 300).status == "approved"
    assert refused(refund(psp, "refund-5", ref, 1)) == ("refused", "amount-above-captured")
    assert psp.moved() == [("authorize", 1000), ("capture", 1000), ("refund", 300), ("refund", 700)]


def test_a_replay_under_the_same_key_answers_identically_refusals_included(psp: Psp) -> None:
    ref = psp.authorized()
    first_void = void(psp, "void-1", ref)
    first_refusal = capture(psp, "capture-1", ref)

    assert void(psp, "void-1", ref) == first_void  # approved, though a void now would be refused
    assert capture(psp, "capture-1", ref) == first_refusal
    assert first_refusal.reference != first_void.reference
    assert psp.moved() == [("authorize", 1000), ("void", 0)]


def test_a_refusal_stays_the_key_s_answer_after_the_state_that_caused_it_has_passed(psp: Psp) -> None:
    ref = psp.authorized(1000)
    capture(psp, "capture-1", ref, cents=1000)
    refund(psp, "refund-1", ref, 1000)
    too_much = refund(psp, "refund-2", ref, 1)

    assert refund(psp, "refund-2", ref, 1) == too_much
    assert too_much.code == "amount-above-captured"


@pytest.mark.parametrize(
    ("ask", "status"),
    [
        (lambda psp, ref: capture(psp, "capture-9", "authorize_unknown"), 404),
        (lambda psp, ref: void(psp, "void-9", "authorize_unknown"), 404),
        (lambda psp, ref: capture(psp, f"{psp.order_id}:authorize", ref), 422),  # the key of another request
        (lambda psp, ref: capture(psp, "capture-9", ref, currency="USD"), 422),
    ],
    ids=["capture-unknown", "void-unknown", "key-reused", "currency"],
)
def test_a_wrong_request_is_rejected_not_refused(
    psp: Psp, ask: Callable[[Psp, str], ProviderReply], status: int
) -> None:
    ref = psp.authorized()
    for _ in range(2):  # and the same again
        with pytest.raises(RequestRejectedError) as rejected:
            ask(psp, ref)
        assert (rejected.value.status, bool(rejected.value.detail)) == (status, True)
    assert psp.moved() == [("authorize", 1000)]


def test_a_declined_authorization_has_nothing_to_capture(psp: Psp) -> None:
    declined = psp.provider.authorize(
        idempotency_key="declined-1", amount=Money(500, EUR), token="tok_decline", order_id="order-declined"
    )
    with pytest.raises(RequestRejectedError) as rejected:
        capture(psp, "capture-1", declined.reference, cents=500)
    assert rejected.value.status == 404
