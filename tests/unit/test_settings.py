"""Every setting is checked when the settings are made, not when it is first used, and an
unusable one is refused in one line that names its variable and never echoes a secret."""

import pytest

from infrastructure.settings import Settings, SettingsError


@pytest.mark.parametrize("schema", ["orders", "t_0123abcd", "_private", "a" * 63])
def test_a_postgresql_identifier_is_a_schema(schema: str) -> None:
    assert Settings.from_env({"ORDERS_POSTGRES_SCHEMA": schema}).postgres_schema == schema


@pytest.mark.parametrize(
    "schema", ["Orders", "1st", "demo-1", "a b", 'x" CASCADE; --', "public,evil", "ü", "a" * 64]
)
def test_a_schema_that_is_not_a_plain_identifier_is_refused(schema: str) -> None:
    with pytest.raises(SettingsError, match=r"^ORDERS_POSTGRES_SCHEMA must be"):
        Settings.from_env({"ORDERS_POSTGRES_SCHEMA": schema})
    with pytest.raises(ValueError, match="postgres_schema"):
        Settings(postgres_schema=schema)


def test_a_database_url_that_is_not_one_is_refused_at_once_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match=r"^DATABASE_URL must be a PostgreSQL URL") as refused:
        Settings.from_env({"DATABASE_URL": "postgresql://u:s3cr3t@h/db?sslmode"})
    assert "s3cr3t" not in str(refused.value)


def test_every_unusable_variable_is_named_in_one_line() -> None:
    environ = {"ORDERS_API_PORT": "abc", "ORDERS_PSP_PORT": "70000", "ORDERS_KAFKA_PARTITIONS": "0"}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environ)
    message = str(refused.value)
    assert "\n" not in message
    assert all(name in message for name in environ)


def test_an_empty_variable_is_an_unset_one() -> None:
    environ = {"ORDERS_API_PORT": "", "DATABASE_URL": "", "ORDERS_POSTGRES_SCHEMA": ""}
    assert Settings.from_env(environ) == Settings()


def test_no_api_key_or_webhook_secret_is_built_in() -> None:
    settings = Settings.from_env({})
    assert (settings.api_keys, settings.psp_webhook_secret) == ((), "")


def test_the_constructor_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_API_PORT", "9000")
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/orders")
    assert (Settings().api_port, Settings().database_url) == (8000, None)
    assert Settings.from_env().api_port == 9000


def test_replace_checks_what_it_changes() -> None:
    settings = Settings(api_port=9000)
    assert settings.replace(psp_port=9001) == Settings(api_port=9000, psp_port=9001)
    with pytest.raises(ValueError, match="psp_port"):
        settings.replace(psp_port=0)


@pytest.mark.parametrize("limit", ["100/second", "5/minute", " 20 / hour "])
def test_the_api_write_rate_limit_is_a_count_per_unit_of_time(limit: str) -> None:
    assert Settings.from_env({"ORDERS_API_WRITE_RATE_LIMIT": limit}).api_write_rate_limit == limit


@pytest.mark.parametrize("limit", ["100", "fast", "-1/second", "10/day", "1.5/second"])
def test_an_api_write_rate_limit_that_is_not_one_is_refused(limit: str) -> None:
    with pytest.raises(SettingsError, match=r"^ORDERS_API_WRITE_RATE_LIMIT must be"):
        Settings.from_env({"ORDERS_API_WRITE_RATE_LIMIT": limit})


def test_the_api_write_rate_limit_has_a_default() -> None:
    assert Settings.from_env({}).api_write_rate_limit == "100/second"
