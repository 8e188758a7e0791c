"""Every attempt the HTTP clients make is recorded in `call_attempts` under its idempotency key,
with what it met, and says where its call comes from in headers; the table keeps a week."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import Request, Response
from support.isolation import isolated_settings
from support.simulators import Served, schema, serving

from domain.asking import asking
from domain.calls import Call
from domain.money import Money
from infrastructure.calls import Attempt, PostgresAttemptLog
from infrastructure.calls.attempts import recorded_attempts
from infrastructure.database import connect
from infrastructure.devstack import free_port
from infrastructure.gateways import GatewayUnreachableError, RetryPolicy
from infrastructure.gateways.payments import HttpPaymentProvider
from infrastructure.settings import Settings
from infrastructure.simulators import psp
from infrastructure.simulators.psp import tokens

pytestmark = pytest.mark.integration

QUICK = RetryPolicy(timeout_s=0.5, attempts=3, backoff_s=0.01, backoff_max_s=0.02)
AMOUNT = Money(1200, "EUR")


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    with isolated_settings(database_url) as settings:
        yield settings


@pytest.fixture
def log(settings: Settings) -> Iterator[PostgresAttemptLog]:
    log = PostgresAttemptLog(settings)
    yield log
    log.close()


@pytest.fixture
def provider(database_url: str) -> Iterator[tuple[Served, list[dict[str, str]]]]:
    """The provider simulator, and the headers of every POST it received, in order."""
    with heard_psp(database_url) as heard:
        yield heard


@contextmanager
def heard_psp(database_url: str) -> Iterator[tuple[Served, list[dict[str, str]]]]:
    with schema(database_url, "psp") as name:
        app = psp.create_app(Settings(database_url=database_url), name)
        heard: list[dict[str, str]] = []

        @app.middleware("http")
        async def listen(request: Request, call_next: Any) -> Response:
            heard.append(dict(request.headers))
            response: Response = await call_next(request)
            return response

        with serving(app) as served:
            yield served, heard


def authorize(url: str, key: str, token: str, log: PostgresAttemptLog, policy: RetryPolicy = QUICK) -> str:
    client = HttpPaymentProvider(url, policy, attempts=log)
    try:
        return client.authorize(idempotency_key=key, amount=AMOUNT, token=token, order_id="order-1").status
    finally:
        client.close()


def attempts(settings: Settings, *keys: str) -> list[tuple[str, int, str, str]]:
    with connect(settings) as conn:
        return [(a.call_id, a.number, a.operation, a.outcome) for a in recorded_attempts(conn, list(keys))]


def test_every_attempt_is_recorded_under_its_key_with_what_it_met(
    settings: Settings, log: PostgresAttemptLog, provider: tuple[Served, list[dict[str, str]]]
) -> None:
    served, _ = provider
    assert authorize(served.url, "k-503", tokens.ERROR_BEFORE_CHARGE, log) == "approved"
    assert authorize(served.url, "k-lost", tokens.TIMEOUT_AFTER_CHARGE, log) == "approved"

    assert attempts(settings, "k-503", "k-lost") == [
        ("k-503", 1, "authorize", "http 503"),
        ("k-503", 2, "authorize", "ok 200"),
        ("k-lost", 1, "authorize", "timeout"),
        ("k-lost", 2, "authorize", "ok 200"),
    ]
    with connect(settings) as conn:
        [lost, _answered] = recorded_attempts(conn, ["k-lost"])
    assert lost.elapsed_ms >= QUICK.timeout_s * 1000
    assert datetime.now(UTC) - timedelta(minutes=1) < lost.started_at < datetime.now(UTC)


def test_an_attempt_that_reaches_nobody_is_recorded_as_such(
    settings: Settings, log: PostgresAttemptLog
) -> None:
    with pytest.raises(GatewayUnreachableError):
        authorize(f"http://127.0.0.1:{free_port()}", "k-nobody", tokens.OK, log, QUICK.single_attempt())

    assert attempts(settings, "k-nobody") == [("k-nobody", 1, "authorize", "connection refused")]


def test_an_asked_call_names_its_flow_and_its_cause_on_every_attempt(
    log: PostgresAttemptLog, provider: tuple[Served, list[dict[str, str]]]
) -> None:
    served, heard = provider
    call = Call("pay-1:authorize", "authorize", {}, correlation_id="req-7", causation_id="authorize-cmd-1")
    with asking(call):
        authorize(served.url, call.call_id, tokens.ERROR_BEFORE_CHARGE, log)
    authorize(served.url, "pay-2:authorize", tokens.OK, log)  # asked outside a call: no flow to name

    names = ("idempotency-key", "x-correlation-id", "x-causation-id", "x-request-id")
    traced = [tuple(headers.get(name) for name in names) for headers in heard]
    assert traced == [
        ("pay-1:authorize", "req-7", "authorize-cmd-1", "req-7"),
        ("pay-1:authorize", "req-7", "authorize-cmd-1", "req-7"),
        ("pay-2:authorize", None, None, None),
    ]


def test_attempts_past_the_retention_are_purged_at_most_once_per_interval(settings: Settings) -> None:
    now = datetime.now(UTC)
    old = Attempt("k-old", "book", now - timedelta(days=8), 12, "ok 200")
    recent = Attempt("k-recent", "book", now - timedelta(days=6), 12, "ok 200")
    hourly = PostgresAttemptLog(settings, retention=timedelta(days=7), purge_every_s=3600)
    always = PostgresAttemptLog(settings, retention=timedelta(days=7), purge_every_s=0)
    try:
        hourly.record(recent)  # the first attempt a log records purges: nothing is old yet
        hourly.record(old)  # within the hour: no purge
        assert attempts(settings, "k-old", "k-recent") == [
            ("k-old", 1, "book", "ok 200"),
            ("k-recent", 1, "book", "ok 200"),
        ]
        assert hourly.purge() == 1
        assert attempts(settings, "k-old", "k-recent") == [("k-recent", 1, "book", "ok 200")]

        hourly.record(old)
        always.record(recent)  # due: purges as it records
        assert attempts(settings, "k-old", "k-recent") == [
            ("k-recent", 1, "book", "ok 200"),
            ("k-recent", 2, "book", "ok 200"),
        ]
    finally:
        hourly.close()
        always.close()


def test_requests_racing_under_one_key_are_each_recorded_and_numbered(
    settings: Settings, log: PostgresAttemptLog
) -> None:
    def record(outcome: str) -> None:
        for _ in range(25):
            log.record(Attempt("k-raced", "capture", datetime.now(UTC), 1, outcome))

    racers = [threading.Thread(target=record, args=(outcome,)) for outcome in ("http 503", "timeout")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    recorded = attempts(settings, "k-raced")
    assert [number for _, number, _, _ in recorded] == list(range(1, 51))
    assert [outcome for *_, outcome in recorded].count("timeout") == 25


def test_an_attempt_that_cannot_be_recorded_still_gets_its_answer(
    settings: Settings, provider: tuple[Served, list[dict[str, str]]]
) -> None:
    served, _ = provider
    closed = PostgresAttemptLog(settings)
    closed.close()

    assert authorize(served.url, "k-unrecorded", tokens.OK, closed) == "approved"
    assert attempts(settings, "k-unrecorded") == []
