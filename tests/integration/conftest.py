"""Fixtures for tests that run the whole system on the session's servers, isolated by a
schema, a topic prefix and a state directory of their own. A module that needs other
settings defines its own `settings` fixture, which takes precedence here."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.isolation import isolated_settings

from infrastructure.settings import Settings
from services.bootstrap import System, build


@pytest.fixture
def settings(database_url: str, kafka_bootstrap_servers: str, tmp_path: Path) -> Iterator[Settings]:
    with isolated_settings(database_url, kafka_bootstrap_servers, devstack_dir=tmp_path) as settings:
        yield settings


@pytest.fixture
def system(settings: Settings) -> Iterator[System]:
    """The four context applications on `settings`, for placing orders and reading back."""
    system = build(settings)
    yield system
    system.close()
