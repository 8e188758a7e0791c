"""How the gateway clients pace their retries, and where the pacing is configured."""

import random

import pytest

from infrastructure.gateways import RetryPolicy
from infrastructure.settings import Settings, SettingsError

POLICY = RetryPolicy(timeout_s=1.0, attempts=5, backoff_s=0.1, backoff_max_s=0.5)


@pytest.mark.parametrize(("retry", "cap"), [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)])
def test_each_pause_is_drawn_from_zero_up_to_a_doubling_capped_bound(retry: int, cap: float) -> None:
    rng = random.Random(retry)
    pauses = [POLICY.pause_s(retry, rng) for _ in range(500)]

    assert all(0 <= pause <= cap for pause in pauses)
    assert min(pauses) < cap / 10 and max(pauses) > cap * 0.9  # full jitter: the whole range


def test_the_policy_comes_from_settings_one_attempt_per_call_with_sane_defaults() -> None:
    assert RetryPolicy.from_settings(Settings()) == RetryPolicy().single_attempt()
    environ = {
        "ORDERS_GATEWAY_TIMEOUT_S": "0.75",
        "ORDERS_GATEWAY_BACKOFF_S": "0.05",
        "ORDERS_GATEWAY_BACKOFF_MAX_S": "4",
    }
    assert RetryPolicy.from_settings(Settings.from_env(environ)) == RetryPolicy(0.75, 1, 0.05, 4.0)


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_an_unusable_timeout_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="ORDERS_GATEWAY_TIMEOUT_S"):
        Settings.from_env({"ORDERS_GATEWAY_TIMEOUT_S": value})


def test_the_simulators_ports_and_webhook_url_come_from_the_environment() -> None:
    environ = {
        "ORDERS_PSP_PORT": "9001",
        "ORDERS_CARRIER_PORT": "9002",
        "ORDERS_PSP_WEBHOOK_URL": "http://h/w",
    }
    settings = Settings.from_env(environ)
    assert (settings.psp_port, settings.carrier_port, settings.psp_webhook_url) == (9001, 9002, "http://h/w")
    assert (Settings.from_env({}).psp_port, Settings.from_env({}).psp_webhook_url) == (8001, None)


def test_a_single_attempt_keeps_the_timeout_for_a_caller_that_schedules_its_own_retries() -> None:
    assert POLICY.single_attempt() == RetryPolicy(timeout_s=1.0, attempts=1, backoff_s=0.1, backoff_max_s=0.5)


@pytest.mark.parametrize(("attempts", "timeout_s"), [(0, 1.0), (-1, 1.0), (1, 0.0)])
def test_a_policy_that_could_never_ask_is_refused(attempts: int, timeout_s: float) -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(timeout_s=timeout_s, attempts=attempts)
