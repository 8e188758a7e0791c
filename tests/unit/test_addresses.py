"""Where `orders run`'s children listen and reach each other over HTTP: on the settings'
ports by default, at the URLs the environment names when it names them, and the provider's
webhooks at the API unless told otherwise. A URL that is not one is refused by name."""

import pytest

from infrastructure.settings import Settings, SettingsError
from services.cli.run import addresses


def test_by_default_everything_is_on_this_machine_at_the_settings_ports() -> None:
    settings = Settings.from_env({"ORDERS_API_PORT": "9000", "ORDERS_PSP_PORT": "9001"})

    assert addresses(settings) == {
        "ORDERS_API_PORT": "9000",
        "ORDERS_PSP_PORT": "9001",
        "ORDERS_CARRIER_PORT": "8002",
        "ORDERS_API_URL": "http://127.0.0.1:9000",
        "ORDERS_PSP_URL": "http://127.0.0.1:9001",
        "ORDERS_CARRIER_URL": "http://127.0.0.1:8002",
        "ORDERS_PSP_WEBHOOK_URL": "http://127.0.0.1:9000/v1/webhooks/psp",
    }


def test_urls_in_the_environment_are_kept_and_the_webhooks_follow_the_api() -> None:
    settings = Settings.from_env(
        {
            "ORDERS_API_URL": "https://orders.example/",
            "ORDERS_PSP_URL": "http://psp.internal:81",
            "ORDERS_CARRIER_URL": "http://carrier.internal/api",
        }
    )

    reached = addresses(settings)

    assert reached["ORDERS_API_URL"] == "https://orders.example"
    assert reached["ORDERS_PSP_URL"] == "http://psp.internal:81"
    assert reached["ORDERS_CARRIER_URL"] == "http://carrier.internal/api"
    assert reached["ORDERS_PSP_WEBHOOK_URL"] == "https://orders.example/v1/webhooks/psp"


def test_a_webhook_url_in_the_environment_is_kept() -> None:
    settings = Settings.from_env({"ORDERS_PSP_WEBHOOK_URL": "http://hooks.internal/psp"})

    assert addresses(settings)["ORDERS_PSP_WEBHOOK_URL"] == "http://hooks.internal/psp"


@pytest.mark.parametrize("value", ["127.0.0.1:8001", "http://", "ftp://psp.internal", "http://a b"])
def test_a_url_that_is_not_an_http_one_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="ORDERS_PSP_URL must be an http:// or https:// URL"):
        Settings.from_env({"ORDERS_PSP_URL": value})
