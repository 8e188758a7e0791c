"""The command line checks its configuration before it does anything: a bad variable or a
missing key is one line on stderr and exit code 2, never a traceback, and help needs none.

`orders api` and `orders run` against a database of their own need the API keys and the
webhook secret; only the dev stack, in-memory runs and the tests may make their own.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infrastructure.devstack import DevStack
from infrastructure.devstack.keys import keys_of
from infrastructure.settings import Settings
from services.cli.credentials import with_stack_keys

ORDERS = [sys.executable, "-m", "services.cli"]
NOWHERE = "postgresql://orders@127.0.0.1:9/orders"  # nothing listens: a command must stop before
CONFIGURATION = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "ORDERS_API_KEYS", "ORDERS_PSP_WEBHOOK_SECRET")


def orders(tmp_path: Path, *arguments: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`orders ARGUMENTS` with `environ` and no servers, keys or dev stack of the caller's."""
    env = {name: value for name, value in os.environ.items() if name not in CONFIGURATION}
    env |= {"ORDERS_DEVSTACK_DIR": str(tmp_path / "devstack"), **environ}
    return subprocess.run([*ORDERS, *arguments], env=env, capture_output=True, text=True, timeout=60)


def refused(result: subprocess.CompletedProcess[str], *named: str) -> bool:
    lines = result.stderr.splitlines()
    return result.returncode == 2 and len(lines) == 1 and all(name in lines[0] for name in named)


def test_help_needs_no_settings(tmp_path: Path) -> None:
    result = orders(tmp_path, "--help", ORDERS_API_PORT="abc")
    assert (result.returncode, result.stderr) == (0, "")
    assert "Usage: orders" in result.stdout


def test_a_bad_variable_stops_a_command_in_one_line_naming_it(tmp_path: Path) -> None:
    result = orders(tmp_path, "api", ORDERS_API_PORT="abc")
    assert refused(result, "ORDERS_API_PORT"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_schema_that_is_not_an_identifier_never_reaches_postgresql(tmp_path: Path) -> None:
    result = orders(tmp_path, "api", DATABASE_URL=NOWHERE, ORDERS_POSTGRES_SCHEMA="x,public")
    assert refused(result, "ORDERS_POSTGRES_SCHEMA"), result.stderr


def test_the_api_on_a_database_without_keys_does_not_start(tmp_path: Path) -> None:
    result = orders(tmp_path, "api", DATABASE_URL=NOWHERE)
    assert refused(result, "ORDERS_API_KEYS", "ORDERS_PSP_WEBHOOK_SECRET", "secrets.token_urlsafe"), (
        result.stderr
    )


def test_the_api_on_a_database_without_a_webhook_secret_does_not_start(tmp_path: Path) -> None:
    result = orders(tmp_path, "api", DATABASE_URL=NOWHERE, ORDERS_API_KEYS="acme:k1")
    assert refused(result, "ORDERS_PSP_WEBHOOK_SECRET"), result.stderr
    assert result.stderr.startswith(
        "orders: error: ORDERS_PSP_WEBHOOK_SECRET and ORDERS_CIPHER_KEY must be set"
    )


def test_the_api_on_a_database_without_a_cipher_key_does_not_start(tmp_path: Path) -> None:
    given = {"ORDERS_API_KEYS": "acme:k1", "ORDERS_PSP_WEBHOOK_SECRET": "s"}
    result = orders(tmp_path, "api", DATABASE_URL=NOWHERE, **given)
    assert result.stderr.startswith("orders: error: ORDERS_CIPHER_KEY must be set"), result.stderr


def test_the_system_on_a_database_without_keys_does_not_start(tmp_path: Path) -> None:
    result = orders(tmp_path, "run", DATABASE_URL=NOWHERE, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9")
    assert refused(result, "ORDERS_API_KEYS", "ORDERS_PSP_WEBHOOK_SECRET"), result.stderr
    assert not (tmp_path / "devstack" / "logs").exists(), "no child was started"


def stack_with_env(root: Path, database_url: str) -> dict[str, str]:
    """A dev stack's env file as `orders dev up` writes it, without starting its servers."""
    root.mkdir()
    variables = {"DATABASE_URL": database_url, **keys_of(root)}
    (root / "env").write_text("".join(f"export {name}={value}\n" for name, value in variables.items()))
    return variables


def test_on_the_dev_stacks_database_its_keys_are_used(tmp_path: Path) -> None:
    stack = stack_with_env(tmp_path / "devstack", NOWHERE)
    given = Settings(database_url=NOWHERE, devstack_dir=tmp_path / "devstack")

    settings = with_stack_keys(given)

    assert settings.api_keys == Settings.from_env(stack).api_keys != ()
    assert settings.psp_webhook_secret == stack["ORDERS_PSP_WEBHOOK_SECRET"] != ""
    assert DevStack(tmp_path / "devstack").exported() == stack


@pytest.mark.parametrize("database_url", [None, "postgresql://orders@db.internal/orders"])
def test_on_another_database_the_dev_stacks_keys_are_not_used(
    tmp_path: Path, database_url: str | None
) -> None:
    stack_with_env(tmp_path / "devstack", NOWHERE)
    given = Settings(database_url=database_url, devstack_dir=tmp_path / "devstack")
    assert with_stack_keys(given) == given


def test_keys_given_in_the_environment_win_over_the_dev_stacks(tmp_path: Path) -> None:
    stack_with_env(tmp_path / "devstack", NOWHERE)
    given = Settings(database_url=NOWHERE, devstack_dir=tmp_path / "devstack", api_keys=(("acme", "mine"),))
    assert with_stack_keys(given).api_keys == (("acme", "mine"),)
