"""The provider charged but its answer was lost: the payment waits in "unknown" and the same
command, retried, asks the provider again with the same idempotency key. Nothing is charged twice."""

from uuid import uuid4

import pytest

from domain.ids import payment_id
from domain.money import Money
from domain.payments import AuthorizePayment, PaymentStatus
from infrastructure.payment_provider import InMemoryPaymentProvider
from services.application import Receipt
from services.bootstrap import System
from services.payments import PaymentOutcomeUnknownError

from .scenario import unique


def authorize_after_a_lost_answer(system: System, provider: InMemoryPaymentProvider) -> AuthorizePayment:
    """Submit an authorization whose provider answer is lost once, after the charge."""
    command = AuthorizePayment(
        command_id=unique("authorize"), order_id=uuid4(), amount=Money(4200, "EUR"), token="tok_ok"
    )
    provider.timeouts_after_charge.add(f"{payment_id(command.order_id)}:authorize")
    with pytest.raises(PaymentOutcomeUnknownError):
        system.payments.execute(command)
    return command


def test_a_lost_provider_answer_leaves_the_payment_unknown_and_the_command_unrecorded(
    system: System, provider: InMemoryPaymentProvider
) -> None:
    command = authorize_after_a_lost_answer(system, provider)
    assert system.payments.payment_of(command.order_id).status is PaymentStatus.UNKNOWN
    assert system.payments.command_log.find_command(command.command_id) is None
    assert len(provider.operations("authorize")) == 1  # the provider did charge


def test_retrying_the_command_authorizes_the_payment_without_charging_again(
    system: System, provider: InMemoryPaymentProvider
) -> None:
    command = authorize_after_a_lost_answer(system, provider)
    receipt = system.payments.execute(command)
    assert (receipt.result["status"], receipt.replayed) == ("authorized", False)
    key = f"{payment_id(command.order_id)}:authorize"
    assert provider.operations("authorize") == [(key, 4200)]


def test_the_payment_s_events_tell_what_happened(system: System, provider: InMemoryPaymentProvider) -> None:
    command = authorize_after_a_lost_answer(system, provider)
    system.payments.execute(command)
    events = system.payments.recorder.select_events(payment_id(command.order_id))
    assert [event.topic for event in events] == [
        "PaymentRequested.v1",
        "PaymentOutcomeUnknown.v1",
        "PaymentAuthorized.v1",
    ]


def test_once_resolved_the_command_is_replayed_from_the_log(
    system: System, provider: InMemoryPaymentProvider
) -> None:
    command = authorize_after_a_lost_answer(system, provider)
    first = system.payments.execute(command)
    assert system.payments.execute(command) == Receipt(command.command_id, first.result, replayed=True)
    assert len(provider.operations("authorize")) == 1
