"""Payment: a ledger of what was asked of the provider and what it answered. Every operation
is an intent first, so a capture and a void can never both be asked for; net captured never
exceeds what was captured (invariant I1)."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain.calls import Call
from domain.errors import CurrencyMismatchError, PaymentStateError, RefundExceedsCaptureError
from domain.ids import payment_id
from domain.money import Money
from domain.payments import Payment, PaymentStatus
from domain.privacy import Sealed

from .scenario import event, given, refused, then, then_nothing_new, trace, traced_by

AMOUNT = Money(5000, "EUR")
Step = Callable[[Payment], object]


TOKEN = Sealed(owner="acme/c-1", ciphertext="c2VhbGVkIHRva2Vu")  # a sealed card token


def history(*steps: Step) -> Any:
    payment, _ = Payment.request(uuid4(), AMOUNT, TOKEN, trace("setup"))
    for step in steps:
        step(payment)
    return payment.collect_events()


def authorized(payment: Payment) -> None:
    payment.authorize("auth_1", trace("setup"))


def declined(payment: Payment) -> None:
    payment.decline("card declined", trace("setup"))


def capturing(payment: Payment) -> None:
    payment.request_capture(trace("setup"))


def captured(payment: Payment) -> None:
    payment.request_capture(trace("setup"))
    payment.capture(trace("setup"))


def voiding(payment: Payment) -> None:
    payment.request_void(trace("setup"))


def refunded(cents: int) -> Step:
    def refund(payment: Payment) -> None:
        call = payment.request_refund(Money(cents, "EUR"), trace(f"setup-refund-{cents}"))
        payment.refund(call.call_id, trace("setup"))

    return refund


def test_requesting_a_payment_opens_it_and_asks_the_provider_to_authorize_under_a_stable_key() -> None:
    order_id = uuid4()
    payment, call = Payment.request(order_id, AMOUNT, TOKEN, trace())
    then(payment, event(Payment.Requested, originator_id=payment_id(order_id), order_id=str(order_id)))
    assert (payment.status, payment.amount) == (PaymentStatus.REQUESTED, AMOUNT)
    assert call == Call(
        f"{payment_id(order_id)}:authorize",
        "authorize",
        {"order_id": str(order_id), "token": TOKEN.as_json(), "amount_cents": 5000, "currency": "EUR"},
        "command/correlation",
        "command",
    )


def test_the_card_token_goes_into_the_call_not_into_the_payment_s_events() -> None:
    payment, _ = Payment.request(uuid4(), AMOUNT, TOKEN, trace())
    assert TOKEN.ciphertext not in repr(payment.collect_events())


def test_the_provider_s_approval_records_its_reference() -> None:
    payment = given(history())
    payment.authorize("auth_7", trace())
    then(payment, event(Payment.Authorized, provider_ref="auth_7"))
    assert payment.status is PaymentStatus.AUTHORIZED


@pytest.mark.parametrize("again", [authorized, declined], ids=["approved", "declined"])
def test_a_second_answer_to_the_authorization_records_nothing_new(again: Step) -> None:
    payment = given(history(authorized))
    again(payment)
    then_nothing_new(payment)


def test_a_decline_records_the_reason() -> None:
    payment = given(history())
    payment.decline("insufficient funds", trace())
    then(payment, event(Payment.Declined, reason="insufficient funds"))


def test_asking_for_the_capture_records_the_intent_and_the_call_for_the_whole_amount() -> None:
    payment = given(history(authorized))
    call = payment.request_capture(trace())
    then(payment, event(Payment.CaptureRequested))
    assert payment.status is PaymentStatus.CAPTURING
    assert call is not None and (call.operation, call.request["reference"]) == ("capture", "auth_1")
    assert call.request["amount_cents"] == 5000


def test_the_provider_s_capture_captures_the_whole_amount() -> None:
    payment = given(history(authorized, capturing))
    payment.capture(trace())
    then(payment, event(Payment.Captured, amount=AMOUNT))
    assert payment.net_captured == AMOUNT


@pytest.mark.parametrize("past", [capturing, captured], ids=["capturing", "captured"])
def test_asking_for_the_capture_again_asks_nothing_new(past: Step) -> None:
    payment = given(history(authorized, past))
    assert payment.request_capture(trace()) is None
    then_nothing_new(payment)


@pytest.mark.parametrize("past", [voiding, declined], ids=["voiding", "declined"])
def test_a_capture_is_refused_once_a_void_is_asked_for_or_the_card_declined(past: Step) -> None:
    payment = given(history(past) if past is declined else history(authorized, past))
    with refused(payment, PaymentStateError):
        payment.request_capture(trace())


def test_asking_for_the_void_records_the_intent_and_the_provider_s_void_ends_it() -> None:
    payment = given(history(authorized))
    call = payment.request_void(trace())
    assert call is not None and call.operation == "void"
    payment.void(trace("answer"))
    then(payment, event(Payment.VoidRequested), event(Payment.Voided))
    assert payment.status is PaymentStatus.VOIDED


@pytest.mark.parametrize("past", [capturing, captured], ids=["capturing", "captured"])
def test_a_void_is_refused_once_a_capture_is_asked_for(past: Step) -> None:
    payment = given(history(authorized, past))
    with refused(payment, PaymentStateError):
        payment.request_void(trace())


def test_a_void_is_refused_while_the_authorization_is_unanswered() -> None:
    payment = given(history())
    with refused(payment, PaymentStateError):
        payment.request_void(trace())


def test_a_partial_refund_keeps_the_payment_captured() -> None:
    payment = given(history(authorized, captured))
    call = payment.request_refund(Money(2000, "EUR"), trace("refund-1"))
    assert call.call_id == f"{payment.id}:refund:refund-1"
    payment.refund(call.call_id, trace())
    then(payment, event(Payment.RefundRequested, amount=Money(2000, "EUR")), event(Payment.Refunded))
    assert (payment.status, payment.net_captured) == (PaymentStatus.CAPTURED, Money(3000, "EUR"))


def test_refunding_the_rest_leaves_the_payment_refunded_with_nothing_captured() -> None:
    payment = given(history(authorized, captured, refunded(2000)))
    call = payment.request_refund(Money(3000, "EUR"), trace())
    payment.refund(call.call_id, trace())
    assert (payment.status, payment.net_captured) == (PaymentStatus.REFUNDED, Money(0, "EUR"))


def test_a_refund_under_way_counts_against_what_may_still_be_refunded() -> None:
    payment = given(history(authorized, captured))
    payment.request_refund(Money(4000, "EUR"), trace("first"))
    payment.collect_events()
    with refused(payment, RefundExceedsCaptureError):
        payment.request_refund(Money(1001, "EUR"), trace("second"))


def test_refunding_more_than_the_net_captured_is_refused() -> None:
    payment = given(history(authorized, captured, refunded(2000)))
    with refused(payment, RefundExceedsCaptureError):
        payment.request_refund(Money(3001, "EUR"), trace())


def test_refunding_in_another_currency_is_refused() -> None:
    payment = given(history(authorized, captured))
    with refused(payment, CurrencyMismatchError):
        payment.request_refund(Money(1000, "USD"), trace())


def test_refunding_a_payment_that_was_never_captured_is_refused() -> None:
    payment = given(history(authorized))
    with refused(payment, PaymentStateError):
        payment.request_refund(Money(1000, "EUR"), trace())


def test_every_payment_event_carries_the_trace_of_the_command_that_caused_it() -> None:
    payment, _ = Payment.request(uuid4(), AMOUNT, TOKEN, trace("request"))
    payment.authorize("auth_1", trace("authorize"))
    payment.request_capture(trace("capture"))
    payment.capture(trace("captured"))
    call = payment.request_refund(Money(100, "EUR"), trace("refund"))
    payment.refund(call.call_id, trace("refunded"))
    names = ["request", "authorize", "capture", "captured", "refund", "refunded"]
    assert [traced_by(e) for e in payment.collect_events()] == [trace(name) for name in names]
