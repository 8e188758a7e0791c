"""The HTTP clients of the provider and the carrier, against the simulators: retries keep the
idempotency key, so whatever is lost on the way, one charge and one parcel."""

import uuid
from collections.abc import Iterator

import pytest
from support.simulators import Served, carrier_simulator, psp_simulator

from domain.money import Money
from domain.ports import (
    CarrierReply,
    CarrierTimeoutError,
    ProviderTimeoutError,
    RequestRejectedError,
    UnreachableError,
)
from infrastructure.devstack import free_port
from infrastructure.gateways import GatewayRefusedError, GatewayUnreachableError, RetryPolicy
from infrastructure.gateways.carrier import HttpCarrier
from infrastructure.gateways.payments import HttpPaymentProvider
from infrastructure.simulators.psp import tokens

pytestmark = pytest.mark.integration

QUICK = RetryPolicy(timeout_s=0.5, attempts=3, backoff_s=0.05, backoff_max_s=0.2)
AMOUNT = Money(1200, "EUR")


@pytest.fixture
def psp(database_url: str) -> Iterator[Served]:
    with psp_simulator(database_url) as served:
        yield served


@pytest.fixture
def carrier(database_url: str) -> Iterator[Served]:
    with carrier_simulator(database_url) as served:
        yield served


def authorize(psp: Served, token: str, policy: RetryPolicy = QUICK, key: str = "pay-1:authorize") -> str:
    """Authorize for a new order through the client; returns the order id."""
    order_id = f"order-{uuid.uuid4()}"
    provider = HttpPaymentProvider(psp.url, policy)
    try:
        reply = provider.authorize(idempotency_key=key, amount=AMOUNT, token=token, order_id=order_id)
    finally:
        provider.close()
    assert reply.status == "approved"
    return order_id


@pytest.mark.parametrize("token", [tokens.ERROR_BEFORE_CHARGE, tokens.TIMEOUT_AFTER_CHARGE])
def test_a_failed_first_attempt_is_retried_with_the_same_key_and_charges_once(
    psp: Served, token: str
) -> None:
    order_id = authorize(psp, token)

    assert psp.posts == [("/v1/authorizations", "pay-1:authorize")] * 2
    assert [(c["idempotency_key"], c["amount_cents"]) for c in psp.charges(order_id)] == [
        ("pay-1:authorize", 1200)
    ]


def test_when_every_attempt_may_have_reached_the_provider_the_outcome_is_unknown(psp: Served) -> None:
    provider = HttpPaymentProvider(psp.url, RetryPolicy(timeout_s=tokens.SLOW_ANSWER_S / 4, attempts=2))
    with pytest.raises(ProviderTimeoutError):
        provider.authorize(
            idempotency_key="pay-2:authorize", amount=AMOUNT, token=tokens.SLOW, order_id="o-2"
        )

    assert psp.posts == [("/v1/authorizations", "pay-2:authorize")] * 2
    assert len(psp.charges("o-2")) == 1  # it did charge: only asking again can tell


def test_a_server_error_on_the_last_attempt_is_an_unknown_outcome_too(psp: Served) -> None:
    provider = HttpPaymentProvider(psp.url, RetryPolicy(attempts=1))
    with pytest.raises(ProviderTimeoutError):
        provider.authorize(
            idempotency_key="k-3", amount=AMOUNT, token=tokens.ERROR_BEFORE_CHARGE, order_id="o-3"
        )


def test_a_refusal_is_not_retried(psp: Served) -> None:
    authorize(psp, tokens.OK, key="pay-4:authorize")
    provider = HttpPaymentProvider(psp.url, QUICK)
    with pytest.raises(GatewayRefusedError, match="422"):  # the same key for another amount
        provider.authorize(
            idempotency_key="pay-4:authorize", amount=Money(1, "EUR"), token="tok_ok", order_id="o"
        )

    assert len(psp.posts) == 2


def test_a_provider_nobody_listens_for_is_unreachable_after_every_attempt() -> None:
    provider = HttpPaymentProvider(f"http://127.0.0.1:{free_port()}", QUICK)
    with pytest.raises(GatewayUnreachableError, match=r"not sent \(ConnectError\), not sent"):
        provider.authorize(idempotency_key="k-5", amount=AMOUNT, token=tokens.OK, order_id="o-5")


def test_declines_and_follow_up_operations_arrive_as_replies(psp: Served) -> None:
    provider = HttpPaymentProvider(psp.url, QUICK)
    declined = provider.authorize(
        idempotency_key="k-6", amount=AMOUNT, token="tok_decline_expired_card", order_id="o-6"
    )
    authorized = provider.authorize(idempotency_key="k-7", amount=AMOUNT, token=tokens.OK, order_id="o-6")
    ref = authorized.reference
    captured = provider.capture(idempotency_key="k-8", reference=ref, amount=AMOUNT)
    refunded = provider.refund(idempotency_key="k-9", reference=ref, amount=Money(200, "EUR"))
    refused = provider.void(idempotency_key="k-10", reference=ref)
    provider.close()

    assert (declined.status, declined.reason) == ("declined", "expired card")
    assert [reply.status for reply in (authorized, captured, refunded)] == ["approved"] * 3
    assert (refused.status, refused.code) == ("refused", "authorization-captured")
    assert refused.reason == "cannot void: the authorization is captured"
    assert [(c["operation"], c["amount_cents"], c["reference"]) for c in psp.charges("o-6")] == [
        ("authorize", 1200, ref),
        ("capture", 1200, captured.reference),
        ("refund", 200, refunded.reference),
    ]
    assert [c["reference"] for c in psp.charges("o-6", status="refused")] == [refused.reference]
    assert psp.posts.count(("/v1/voids", "k-10")) == 1  # an answer: not retried


def test_the_carrier_client_books_one_parcel_however_often_it_asks(carrier: Served) -> None:
    client = HttpCarrier(carrier.url, QUICK)
    first = client.ship(idempotency_key="shp-1:ship", destination="1 Demo Street")
    again = client.ship(idempotency_key="shp-1:ship", destination="1 Demo Street")
    refused = client.ship(idempotency_key="shp-2:ship", destination="FAIL Test")
    client.close()

    assert (first.status, again) == ("accepted", first)
    assert (refused.status, refused.tracking_id) == ("refused", "")
    assert [b["tracking_id"] for b in carrier.get("/shipments")["shipments"]] == [first.tracking_id, ""]


def test_a_lost_booking_answer_is_retried_with_the_same_key_and_books_once(carrier: Served) -> None:
    losing = HttpCarrier(carrier.url, QUICK, headers={"X-Sim-Behaviour": "timeout_after_booking"})
    reply = losing.ship(idempotency_key="shp-3:ship", destination="3 Slow Lane")
    losing.close()

    assert carrier.posts == [("/v1/shipments", "shp-3:ship")] * 2
    assert [b["tracking_id"] for b in carrier.get("/shipments")["shipments"]] == [reply.tracking_id]


def test_a_lost_booking_answer_on_the_last_attempt_is_an_unknown_outcome(carrier: Served) -> None:
    losing = HttpCarrier(
        carrier.url, RetryPolicy(timeout_s=0.5, attempts=1), {"X-Sim-Behaviour": "timeout_after_booking"}
    )
    with pytest.raises(CarrierTimeoutError):
        losing.ship(idempotency_key="shp-4:ship", destination="4 Slow Lane")
    losing.close()

    assert [b["status"] for b in carrier.get("/shipments")["shipments"]] == ["accepted"]


def test_a_wrong_request_raises_with_the_status_and_the_problem_s_detail(
    psp: Served, carrier: Served
) -> None:
    provider, parcels = HttpPaymentProvider(psp.url, QUICK), HttpCarrier(carrier.url, QUICK)
    with pytest.raises(GatewayRefusedError, match="HTTP 404") as unknown_authorization:
        provider.void(idempotency_key="k-11", reference="authorize_unknown")
    with pytest.raises(RequestRejectedError) as unknown_parcel:
        parcels.hand_over(idempotency_key="k-12", tracking_id="TRK-UNKNOWN")
    provider.close()
    parcels.close()

    assert (unknown_authorization.value.status, unknown_parcel.value.status) == (404, 404)
    assert unknown_authorization.value.detail == "void k-11: no approved authorization 'authorize_unknown'"
    assert unknown_parcel.value.detail == "hand_over k-12: no parcel 'TRK-UNKNOWN'"
    assert isinstance(unknown_parcel.value, GatewayRefusedError)
    assert unknown_parcel.value.problem["type"].endswith("/carrier/unknown-parcel")
    assert len(psp.posts) == len(carrier.posts) == 1


def test_one_attempt_that_times_out_is_an_unknown_outcome_asked_once(psp: Served) -> None:
    once = QUICK.single_attempt()
    provider = HttpPaymentProvider(psp.url, once)
    with pytest.raises(ProviderTimeoutError):
        provider.authorize(
            idempotency_key="k-13", amount=AMOUNT, token=tokens.TIMEOUT_AFTER_CHARGE, order_id="o-13"
        )
    provider.close()

    assert (once.attempts, once.timeout_s) == (1, QUICK.timeout_s)
    assert psp.posts == [("/v1/authorizations", "k-13")]
    assert len(psp.charges("o-13")) == 1  # it did charge: the caller asks again later, same key


def test_one_attempt_nobody_listens_for_is_unreachable() -> None:
    provider = HttpPaymentProvider(f"http://127.0.0.1:{free_port()}", QUICK.single_attempt())
    with pytest.raises(GatewayUnreachableError, match=r"'k-14': not sent \(ConnectError\)$") as unreachable:
        provider.capture(idempotency_key="k-14", reference="authorize_x", amount=AMOUNT)
    assert isinstance(unreachable.value, UnreachableError)


def test_a_lost_answer_to_a_move_is_an_unknown_outcome_then_the_retry_gets_it(carrier: Served) -> None:
    client = HttpCarrier(carrier.url, QUICK)
    parcel = client.ship(idempotency_key="shp-15:ship", destination="15 Road").tracking_id
    losing = HttpCarrier(carrier.url, QUICK.single_attempt(), {"X-Sim-Behaviour": "timeout_after_cancel"})
    with pytest.raises(CarrierTimeoutError):
        losing.cancel(idempotency_key="shp-15:cancel", tracking_id=parcel)
    losing.close()

    assert client.cancel(idempotency_key="shp-15:cancel", tracking_id=parcel) == CarrierReply(
        "accepted", parcel
    )
    refused = client.hand_over(idempotency_key="shp-15:hand-over", tracking_id=parcel)
    client.close()

    assert (refused.status, refused.tracking_id, refused.code) == ("refused", parcel, "parcel-cancelled")
    path = f"/v1/shipments/{parcel}"
    assert carrier.posts[1:] == [(f"{path}/cancel", "shp-15:cancel")] * 2 + [
        (f"{path}/handover", "shp-15:hand-over")
    ]
