"""The relay's configuration rules, checked without a server: constructing a relay connects
to nothing."""

import pytest

from infrastructure.relay import Relay, RelayOptions, advisory_key
from infrastructure.settings import Settings
from services.bootstrap import build
from services.cli import main


def relay(settings: Settings, options: RelayOptions) -> Relay:
    app = build(Settings()).inventory  # in memory: only the recorder's interface is needed
    return Relay(app.recorder, app.mapper.to_domain_event, "inventory", settings, options)  # type: ignore[arg-type]


def test_the_lock_key_is_stable_and_differs_per_schema_and_context() -> None:
    assert advisory_key("s", "orders") == advisory_key("s", "orders")
    keys = {advisory_key(schema, context) for schema in ("", "s") for context in ("orders", "inventory")}
    assert len(keys) == 4
    assert all(0 <= key < 2**63 for key in keys)


def test_the_default_lease_outlasts_a_send_that_times_out_under_the_default_settings() -> None:
    assert relay(Settings(), RelayOptions()).options.lease_s == 15.0


def test_a_lease_shorter_than_a_send_that_times_out_is_refused() -> None:
    with pytest.raises(ValueError, match="must exceed"):
        relay(Settings(kafka_delivery_timeout_ms=10_000), RelayOptions(lease_s=10.0))


def test_a_lease_shorter_than_the_heartbeat_interval_is_refused() -> None:
    options = RelayOptions(lease_s=20.0, heartbeat_interval_s=30.0)
    with pytest.raises(ValueError, match="heartbeat"):
        relay(Settings(), options)


def test_the_relay_command_names_the_missing_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nowhere/db")
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["relay"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "KAFKA_BOOTSTRAP_SERVERS must be set" in error
