"""The payments context's gateway calling the provider simulator over HTTP: an answer lost
after the charge leaves the call pending, and the next attempt, under the same key,
completes the payment with the one charge the provider already made."""

from collections.abc import Iterator
from uuid import uuid4

import pytest
from support.orders import sealed_token
from support.simulators import Served, psp_simulator

from domain.money import Money
from domain.payments import AuthorizePayment, PaymentStatus
from infrastructure.gateways import RetryPolicy
from infrastructure.gateways.payments import HttpPaymentProvider
from infrastructure.settings import Settings
from infrastructure.simulators.psp import tokens
from services.bootstrap import System, build
from services.gateway import Gateway, GatewayOptions

pytestmark = pytest.mark.integration


@pytest.fixture
def psp(database_url: str) -> Iterator[Served]:
    with psp_simulator(database_url) as served:
        yield served


@pytest.fixture
def system(psp: Served) -> Iterator[System]:
    """The contexts in memory; only the provider is real. One short attempt per call, so a
    lost answer reaches the payments context."""
    provider = HttpPaymentProvider(psp.url, RetryPolicy(timeout_s=0.5, attempts=1))
    system = build(Settings(database_url=None), provider=provider)
    yield system
    system.close()
    provider.close()


def test_a_lost_answer_leaves_the_call_pending_and_the_next_attempt_completes_it_with_one_charge(
    system: System, psp: Served
) -> None:
    command = AuthorizePayment(
        command_id=f"authorize-{uuid4()}",
        order_id=uuid4(),
        amount=Money(4200, "EUR"),
        token=sealed_token(system, tokens.TIMEOUT_AFTER_CHARGE),
    )
    system.payments.execute(command)
    gateway = Gateway(system.payments, system.payments.calls, GatewayOptions(backoff_s=0.0, lease_s=0.0))
    assert gateway.perform_due() == 1
    assert system.payments.payment_of(command.order_id).status is PaymentStatus.REQUESTED
    assert system.payments.calls.pending() == 1
    [charge] = psp.charges(str(command.order_id))  # the provider did charge

    assert gateway.perform_due() == 1

    assert system.payments.payment_of(command.order_id).status is PaymentStatus.AUTHORIZED
    assert system.payments.payment_of(command.order_id).provider_ref == charge["reference"]
    assert psp.charges(str(command.order_id)) == [charge]
    assert [key for _, key in psp.posts] == [charge["idempotency_key"]] * 2
