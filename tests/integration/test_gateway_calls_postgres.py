"""Gateway workers on PostgreSQL: several share one call table and never take the same call
at once (`FOR UPDATE SKIP LOCKED`); a worker too slow for its lease has its call taken over,
and asking twice under one key still has one effect; a parked call comes back with
`orders dlq retry CALL_ID`."""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from support.isolation import environment, isolated_settings
from support.orders import sealed_token

from domain.money import Money
from domain.payments import AuthorizePayment, PaymentStatus
from domain.ports import ProviderReply
from infrastructure.database import connect
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.settings import Settings
from services.bootstrap import System, build
from services.cli import main
from services.gateway import Gateway, GatewayOptions

pytestmark = pytest.mark.integration


class CountingProvider(InMemoryPaymentProvider):
    """Counts every authorization asked, per key; optionally slow to answer."""

    def __init__(self, answer_after_s: float = 0.0) -> None:
        super().__init__()
        self.asked: Counter[str] = Counter()
        self.answer_after_s = answer_after_s
        self._count = threading.Lock()

    def authorize(self, *, idempotency_key: str, amount: Money, token: str, order_id: str) -> ProviderReply:
        with self._count:
            self.asked[idempotency_key] += 1
        time.sleep(self.answer_after_s)
        return super().authorize(
            idempotency_key=idempotency_key, amount=amount, token=token, order_id=order_id
        )


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    with isolated_settings(database_url) as settings:
        yield settings


def system_with(settings: Settings, provider: InMemoryPaymentProvider) -> System:
    return build(settings, provider=provider)


def authorizations(system: System, count: int) -> list[UUID]:
    orders = [uuid4() for _ in range(count)]
    for order_id in orders:
        system.payments.execute(
            AuthorizePayment(
                command_id=f"pay-{order_id}",
                order_id=order_id,
                amount=Money(500, "EUR"),
                token=sealed_token(system, "tok"),
            )
        )
    return orders


def test_two_gateways_sharing_one_call_table_ask_each_call_once(settings: Settings) -> None:
    provider = CountingProvider()
    systems = [system_with(settings, provider) for _ in range(2)]
    orders = authorizations(systems[0], 60)
    stop = threading.Event()
    options = GatewayOptions(workers=4, poll_s=0.05)
    gateways = [Gateway(s.payments, s.payments.calls, options) for s in systems]
    threads = [threading.Thread(target=g.run, args=(stop,)) for g in gateways]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while systems[0].payments.calls.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert systems[0].payments.calls.pending() == 0
    assert sorted(provider.asked.values()) == [1] * len(orders), "no call taken by two workers"
    assert all(systems[0].payments.payment_of(o).status is PaymentStatus.AUTHORIZED for o in orders)
    with connect(settings) as conn:
        kept = conn.execute("SELECT count(*) FROM payments_calls WHERE request ? 'token'").fetchone()
    assert kept == (0,), "an answered call keeps no card token"
    for system in systems:
        system.close()


def test_a_call_whose_worker_outlives_its_lease_is_taken_over_and_still_has_one_effect(
    settings: Settings,
) -> None:
    provider = CountingProvider(answer_after_s=1.5)
    slow, quick = system_with(settings, provider), system_with(settings, provider)
    (order_id,) = authorizations(slow, 1)
    short_lease = GatewayOptions(lease_s=0.5)
    first = threading.Thread(target=Gateway(slow.payments, slow.payments.calls, short_lease).perform_due)
    first.start()
    time.sleep(1.0)  # the lease has passed; the first worker still waits for its answer
    assert Gateway(quick.payments, quick.payments.calls, short_lease).perform_due() == 1
    first.join()

    assert list(provider.asked.values()) == [2], "asked twice, under one key"
    assert len(provider.operations("authorize")) == 1, "charged once"
    events = slow.payments.recorder.select_events(slow.payments.payment_of(order_id).id)
    assert [event.topic for event in events] == ["PaymentRequested.v1", "PaymentAuthorized.v1"]
    slow.close()
    quick.close()


def test_a_parked_call_is_due_again_after_orders_dlq_retry(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    system = system_with(settings, InMemoryPaymentProvider())
    (order_id,) = authorizations(system, 1)
    queue = system.payments.calls
    (call,) = queue.claim(1, 30.0)
    queue.park(call.call_id, "RequestRejectedError: HTTP 404: no such card")
    for name, value in environment(settings).items():
        monkeypatch.setenv(name, value)

    assert main(["dlq", "list"]) == 0
    assert f"{call.call_id} parked" in capsys.readouterr().out
    assert main(["dlq", "retry", call.call_id]) == 0
    assert "is due again" in capsys.readouterr().out
    assert [c.call_id for c in queue.claim(10, 30.0)] == [call.call_id]
    assert main(["dlq", "retry", "no-such-call"]) == 1
    assert (
        capsys.readouterr().err
        == "orders dlq: error: no parked call 'no-such-call' (see `orders dlq list`)\n"
    )
    assert system.payments.payment_of(order_id).status is PaymentStatus.REQUESTED
    system.close()
