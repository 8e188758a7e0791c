"""Payment: a ledger of what the provider did for one order. Net captured never exceeds
what was captured (invariant I1), and a lost provider answer leaves the payment open."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

from domain.errors import CurrencyMismatchError, PaymentStateError, RefundExceedsCaptureError
from domain.ids import payment_id
from domain.money import Money
from domain.payments import Payment, PaymentStatus

from .scenario import event, given, refused, then, then_nothing_new, trace, traced_by

AMOUNT = Money(5000, "EUR")
Step = Callable[[Payment], None]


def history(*steps: Step) -> Any:
    payment = Payment.request(uuid4(), AMOUNT, trace("setup"))
    for step in steps:
        step(payment)
    return payment.collect_events()


def outcome_unknown(payment: Payment) -> None:
    payment.mark_outcome_unknown("authorize", trace("setup"))


def authorized(payment: Payment) -> None:
    payment.authorize("auth_1", trace("setup"))


def declined(payment: Payment) -> None:
    payment.decline("card declined", trace("setup"))


def captured(payment: Payment) -> None:
    payment.capture(trace("setup"))


def refunded(cents: int) -> Step:
    return lambda payment: payment.refund(Money(cents, "EUR"), trace("setup"))


def test_requesting_a_payment_opens_the_payment_of_that_order() -> None:
    order_id = uuid4()
    payment = Payment.request(order_id, AMOUNT, trace())
    then(payment, event(Payment.Requested, originator_id=payment_id(order_id), order_id=str(order_id)))
    assert (payment.status, payment.amount) == (PaymentStatus.REQUESTED, AMOUNT)


def test_authorizing_records_the_provider_s_reference() -> None:
    payment = given(history())
    payment.authorize("auth_7", trace())
    then(payment, event(Payment.Authorized, provider_ref="auth_7"))
    assert payment.status is PaymentStatus.AUTHORIZED


def test_authorizing_twice_records_nothing_new() -> None:
    payment = given(history(authorized))
    payment.authorize("auth_1", trace())
    then_nothing_new(payment)


def test_declining_records_the_reason() -> None:
    payment = given(history())
    payment.decline("insufficient funds", trace())
    then(payment, event(Payment.Declined, reason="insufficient funds"))


def test_authorizing_a_declined_payment_is_refused() -> None:
    payment = given(history(declined))
    with refused(payment, PaymentStateError):
        payment.authorize("auth_2", trace())


def test_a_lost_provider_answer_leaves_the_payment_unknown() -> None:
    payment = given(history())
    payment.mark_outcome_unknown("authorize", trace())
    then(payment, event(Payment.OutcomeUnknown, operation="authorize"))
    assert payment.status is PaymentStatus.UNKNOWN


def test_a_payment_of_unknown_outcome_is_authorized_once_the_provider_answers() -> None:
    payment = given(history(outcome_unknown))
    payment.authorize("auth_1", trace())
    then(payment, event(Payment.Authorized, provider_ref="auth_1"))


def test_capturing_takes_the_whole_amount() -> None:
    payment = given(history(authorized))
    payment.capture(trace())
    then(payment, event(Payment.Captured, amount=AMOUNT))
    assert payment.net_captured == AMOUNT


def test_capturing_a_payment_that_is_not_authorized_is_refused() -> None:
    payment = given(history(outcome_unknown))
    with refused(payment, PaymentStateError):
        payment.capture(trace())


def test_voiding_releases_an_authorization() -> None:
    payment = given(history(authorized))
    payment.void(trace())
    then(payment, event(Payment.Voided))
    assert payment.status is PaymentStatus.VOIDED


def test_voiding_a_captured_payment_is_refused() -> None:
    payment = given(history(authorized, captured))
    with refused(payment, PaymentStateError):
        payment.void(trace())


def test_a_partial_refund_keeps_the_payment_captured() -> None:
    payment = given(history(authorized, captured))
    payment.refund(Money(2000, "EUR"), trace())
    then(payment, event(Payment.Refunded, amount=Money(2000, "EUR")))
    assert (payment.status, payment.net_captured) == (PaymentStatus.CAPTURED, Money(3000, "EUR"))


def test_refunding_the_rest_leaves_the_payment_refunded_with_nothing_captured() -> None:
    payment = given(history(authorized, captured, refunded(2000)))
    payment.refund(Money(3000, "EUR"), trace())
    then(payment, event(Payment.Refunded, amount=Money(3000, "EUR")))
    assert (payment.status, payment.net_captured) == (PaymentStatus.REFUNDED, Money(0, "EUR"))


def test_refunding_more_than_the_net_captured_is_refused() -> None:
    payment = given(history(authorized, captured, refunded(2000)))
    with refused(payment, RefundExceedsCaptureError):
        payment.refund(Money(3001, "EUR"), trace())


def test_refunding_in_another_currency_is_refused() -> None:
    payment = given(history(authorized, captured))
    with refused(payment, CurrencyMismatchError):
        payment.refund(Money(1000, "USD"), trace())


def test_refunding_a_payment_that_was_never_captured_is_refused() -> None:
    payment = given(history(authorized))
    with refused(payment, PaymentStateError):
        payment.refund(Money(1000, "EUR"), trace())


def test_every_payment_event_carries_the_trace_of_the_command_that_caused_it() -> None:
    payment = Payment.request(uuid4(), AMOUNT, trace("request"))
    payment.mark_outcome_unknown("authorize", trace("timeout"))
    payment.authorize("auth_1", trace("authorize"))
    payment.capture(trace("capture"))
    payment.refund(Money(100, "EUR"), trace("refund"))
    names = ["request", "timeout", "authorize", "capture", "refund"]
    assert [traced_by(e) for e in payment.collect_events()] == [trace(name) for name in names]
