"""A capture and a void of one payment never both reach the provider.

Two passes of the saga may handle one order at once (a redelivery, a second saga process).
The payment records the intent to capture or to void before the provider is asked, so
whichever intent is recorded first wins and the other is refused by the payment itself,
while the first operation's call is still in flight."""

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

import pytest
from support.orders import sealed_token

from domain.errors import PaymentStateError
from domain.money import Money
from domain.payments import AuthorizePayment, CapturePayment, PaymentStatus, VoidPayment
from domain.ports import ProviderReply
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.saga.pump import AT_ONCE

from .scenario import unique


class RacingProvider(InMemoryPaymentProvider):
    """A provider during whose capture, or void, the other command arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: Callable[[], object] = lambda: None

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        self._race()
        return super().capture(idempotency_key=idempotency_key, reference=reference, amount=amount)

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply:
        self._race()
        return super().void(idempotency_key=idempotency_key, reference=reference)

    def _race(self) -> None:
        meanwhile, self.meanwhile = self.meanwhile, lambda: None
        with contextlib.suppress(PaymentStateError):  # refused: what the test checks, at the provider
            meanwhile()


@pytest.fixture
def racing() -> RacingProvider:
    return RacingProvider()


@pytest.fixture
def system(racing: RacingProvider) -> Iterator[System]:
    system = build(Settings(database_url=None), provider=racing)
    yield system
    system.close()


def settle(system: System) -> None:
    while sum(gateway.perform_due() for gateway in system.gateways(AT_ONCE)):
        pass


def authorized(system: System) -> UUID:
    order_id = uuid4()
    system.payments.execute(
        AuthorizePayment(
            command_id=unique("pay"), order_id=order_id, amount=Money(900, "EUR"), token=sealed_token(system)
        )
    )
    settle(system)
    return order_id


def test_a_void_arriving_while_the_capture_is_in_flight_is_refused_and_never_sent(
    system: System, racing: RacingProvider
) -> None:
    order_id = authorized(system)
    racing.meanwhile = lambda: system.payments.execute(
        VoidPayment(command_id=unique("void"), order_id=order_id)
    )
    system.payments.execute(CapturePayment(command_id=unique("capture"), order_id=order_id))
    settle(system)

    assert system.payments.payment_of(order_id).status is PaymentStatus.CAPTURED
    assert [len(racing.operations(op)) for op in ("capture", "void")] == [1, 0]


def test_a_capture_arriving_while_the_void_is_in_flight_is_refused_and_never_sent(
    system: System, racing: RacingProvider
) -> None:
    order_id = authorized(system)
    racing.meanwhile = lambda: system.payments.execute(
        CapturePayment(command_id=unique("cap"), order_id=order_id)
    )
    system.payments.execute(VoidPayment(command_id=unique("void"), order_id=order_id))
    settle(system)

    assert system.payments.payment_of(order_id).status is PaymentStatus.VOIDED
    assert [len(racing.operations(op)) for op in ("capture", "void")] == [0, 1]


def test_a_capture_and_a_void_sent_at_the_same_moment_one_wins_the_other_is_refused(
    system: System, racing: RacingProvider
) -> None:
    for _ in range(20):
        order_id = authorized(system)
        commands = [
            CapturePayment(command_id=unique("capture"), order_id=order_id),
            VoidPayment(command_id=unique("void"), order_id=order_id),
        ]
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(lambda c: _outcome(system, c), commands))
        settle(system)

        assert sorted(outcomes) == ["applied", "refused"]
        status = system.payments.payment_of(order_id).status
        assert status in (PaymentStatus.CAPTURED, PaymentStatus.VOIDED)
    captures, voids = len(racing.operations("capture")), len(racing.operations("void"))
    assert captures + voids == 20, "one operation per payment reached the provider"


def _outcome(system: System, command: CapturePayment | VoidPayment) -> str:
    try:
        system.payments.execute(command)
    except PaymentStateError:
        return "refused"
    return "applied"
