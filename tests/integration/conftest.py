"""Fixtures for tests that run the whole system on the session's servers, isolated by a
schema, a topic prefix and a state directory of their own. A module that needs other
settings defines its own `settings` fixture, which takes precedence here."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.isolation import environment, isolated_settings
from support.running import RUN, stop

from infrastructure.devstack import LocalBroker, free_port
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


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker of the test's own, on a port of its own, so that pausing, cutting off or
    restarting it disturbs no other test."""
    broker = LocalBroker(tmp_path, free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def orders_run(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """`orders run` on the test's schema, topics and ports (a module that starts it puts its
    `settings` on free ports), its output in <devstack_dir>/run.out; on the way out, stopped
    if the test left it running, and its output shown on failure."""
    env = {**os.environ, **environment(settings), "ORDERS_DEVSTACK_DIR": str(settings.devstack_dir)}
    output = settings.devstack_dir / "run.out"
    with output.open("wb") as out:
        process = subprocess.Popen(RUN, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop(process)
        for log in sorted(settings.devstack_dir.rglob("*.*")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")
