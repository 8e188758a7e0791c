"""API keys: ORDERS_API_KEYS maps keys to tenants (none is built in), and a request without a
known bearer key is refused before anything else happens."""

import pytest
from support.api import ACME, GLOBEX, api_client, headers, key

from infrastructure.settings import Settings, SettingsError
from services.bootstrap import System


def test_without_orders_api_keys_there_is_no_key() -> None:
    assert Settings.from_env({}).api_keys == Settings.from_env({"ORDERS_API_KEYS": " "}).api_keys == ()


def test_orders_api_keys_lists_tenant_key_pairs() -> None:
    settings = Settings.from_env({"ORDERS_API_KEYS": "acme:k1, acme:k2,initech:s3cr3t=="})
    assert settings.api_keys == (("acme", "k1"), ("acme", "k2"), ("initech", "s3cr3t=="))


@pytest.mark.parametrize(
    "value",
    ["acme", "acme:", ":k1", "Acme:k1", "acme:not a token", "acme:k1,", "acme:k1,globex:k1"],
)
def test_a_malformed_orders_api_keys_is_refused_without_echoing_a_key(value: str) -> None:
    with pytest.raises(SettingsError, match="ORDERS_API_KEYS") as refused:
        Settings.from_env({"ORDERS_API_KEYS": value})
    keys = [item.partition(":")[2] for item in value.split(",")]
    assert not any(given in str(refused.value) for given in keys if given)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer unknown-key", "Basic a2V5LWFjbWU6", "key-acme", "Bearer key-acme-"],
)
def test_a_request_without_a_known_bearer_key_is_refused(system: System, authorization: str | None) -> None:
    sent = {"Idempotency-Key": key()} | ({"Authorization": authorization} if authorization else {})
    answer = api_client(system).post("/v1/inventory/SKU-1/restock", json={"quantity": 1}, headers=sent)
    assert answer.status_code == 401


def test_each_key_acts_for_its_own_tenant(system: System) -> None:
    api = api_client(system)
    for auth in (ACME, GLOBEX):
        answer = api.post("/v1/inventory/SKU-1/restock", json={"quantity": 1}, headers=headers(key(), auth))
        assert answer.status_code == 200
