"""The dev stack's API keys and webhook secret are random, made once per stack directory and
readable by its owner only; no key is written in the docs, which say where to find them."""

import re
import stat
from pathlib import Path

import pytest

from infrastructure.devstack.keys import TENANTS, generated, keys_of
from infrastructure.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_a_stack_keeps_the_keys_it_made_first(tmp_path: Path) -> None:
    first = keys_of(tmp_path)
    assert keys_of(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


def test_no_two_stacks_share_a_key(tmp_path: Path) -> None:
    one, other = keys_of(tmp_path / "one"), keys_of(tmp_path / "other")
    assert set(one.values()).isdisjoint(other.values())


def test_the_keys_are_settings_one_per_tenant_and_a_shell_variable_each() -> None:
    variables = generated()
    settings = Settings.from_env(variables)

    assert [tenant for tenant, _ in settings.api_keys] == list(TENANTS)
    assert len(settings.psp_webhook_secret) >= 32
    for tenant, key in settings.api_keys:
        assert variables[f"ORDERS_DEV_KEY_{tenant.upper()}"] == key
        assert len(key) >= 32


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_docs_print_no_key(doc: Path) -> None:
    text = doc.read_text()
    assert not re.search(r"dev-key-|dev-psp-webhook-secret", text)
    assert all(given.startswith(("$", "<")) for given in re.findall(r"Bearer ([^\s'\"`]+)", text))


def test_the_key_variables_the_readme_uses_are_those_the_dev_stack_writes() -> None:
    used = set(re.findall(r"\$\{?(ORDERS_DEV_KEY_\w+)", (ROOT / "README.md").read_text()))
    assert used and used <= set(generated())
