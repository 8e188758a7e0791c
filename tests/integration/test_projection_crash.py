"""Failure scenario S6 (docs/FAILURE-MODES.md): a projector dies after its DB commit, before
its offset commit.

The batch's effect and its version records are committed; its offsets are not. The
restarted projector gets the same batch again, skips every record of it as a duplicate,
and the read model equals a fresh fold of the event store. Both projectors are real
`orders projector` processes; the second one is stopped with Ctrl-C (SIGINT).
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.isolation import environment, isolated_settings
from support.projecting import checksum_of, counts_of, wait_until_seen
from support.publishing import World, applications, world

from infrastructure.faults.crash_points import CRASH_EXIT_CODE
from infrastructure.settings import Settings
from projections.rebuild import rebuild_from_events
from projections.stats import Counts
from projections.stock import Stock

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def w(database_url: str, kafka_bootstrap_servers: str) -> Iterator[World]:
    # A short session timeout, so that the group forgets the killed member quickly.
    servers = {"database_url": database_url, "kafka_bootstrap_servers": kafka_bootstrap_servers}
    with isolated_settings(**servers, kafka_max_poll_interval_ms=2_000) as settings, world(settings) as w:
        yield w


def start_projector(settings: Settings, name: str, crash_points: str = "") -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "projector", name],
        env={**os.environ, **environment(settings), "ORDERS_CRASH_POINTS": crash_points},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_projector_killed_between_its_commits_skips_the_redelivered_batch_as_duplicates(
    w: World,
) -> None:
    w.flows.restock("KEEP", 10)
    w.flows.completed(("KEEP", 2))
    w.flows.cancelled(("KEEP", 1))
    records = len(w.publisher.publish_new("inventory"))
    stock = Stock()

    crashing = start_projector(w.settings, stock.name, crash_points="projector.after_db_commit")
    _, stderr = crashing.communicate(timeout=60)

    assert crashing.returncode == CRASH_EXIT_CODE, stderr[-2000:]
    first_batch = counts_of(w.settings, stock)
    assert first_batch.applied > 0  # committed to PostgreSQL before the crash
    restarted = start_projector(w.settings, stock.name)
    try:
        # The first batch again (every record a duplicate), then whatever it had not reached.
        after = wait_until_seen(w.settings, stock, records + first_batch.applied)
    finally:
        restarted.send_signal(signal.SIGINT)
        stdout, stderr = restarted.communicate(timeout=30)
    assert restarted.returncode == 0, stderr[-2000:]
    assert after == Counts(applied=records, duplicates_skipped=first_batch.applied)
    rest = records - first_batch.applied
    assert f"stopped: applied {rest}, duplicates skipped {first_batch.applied}," in stdout
    live = checksum_of(w.settings, stock)
    assert rebuild_from_events(w.settings, stock, applications(w.system)).checksum == live
