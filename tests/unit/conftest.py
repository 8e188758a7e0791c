from collections.abc import Iterator

import pytest

from infrastructure.command_log import MemoryCommandRecorder
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.metrics import Metrics
from infrastructure.settings import Settings
from services.bootstrap import System, build

# The scenario helpers assert on behalf of the tests; let pytest explain their failures too.
pytest.register_assert_rewrite(f"{__package__}.scenario")


@pytest.fixture
def provider() -> InMemoryPaymentProvider:
    return InMemoryPaymentProvider()


@pytest.fixture
def system(provider: InMemoryPaymentProvider) -> Iterator[System]:
    """All four contexts, in memory: settings without a DATABASE_URL; metrics of its own, from 0."""
    system = build(Settings(database_url=None), provider=provider, metrics=Metrics())
    assert all(isinstance(app.recorder, MemoryCommandRecorder) for app in system.contexts)
    yield system
    system.close()
