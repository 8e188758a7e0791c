"""A version that arrives before the one it follows is parked, never applied blindly, and is
applied, in order, as soon as the missing version arrives."""

from collections.abc import Iterator

import pytest
from support.isolation import environment, isolated_settings
from support.projecting import counts_of, projectors_running, wait_until_seen
from support.publishing import World, stored_events, world
from support.recording import RecordingProjection, recorded

from infrastructure.database import connect
from infrastructure.settings import Settings
from projections import positions
from projections.stock import Stock
from services.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def w(database_url: str, kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Also puts the settings in the environment, for `orders projections status` run in-process."""
    with isolated_settings(database_url, kafka_bootstrap_servers) as settings, world(settings) as w:
        for variable, value in environment(settings).items():
            monkeypatch.setenv(variable, value)
        yield w


def restocked(settings: Settings, sku: str) -> int:
    with connect(settings) as conn:
        row = conn.execute("SELECT restocked FROM stock WHERE sku = %s", (sku,)).fetchone()
    return row[0] if row else 0


def test_versions_3_and_4_wait_for_version_2_and_are_then_applied_in_order(
    w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w.flows.restock("GAP", 5)  # v1 registered, v2 restocked 5
    w.flows.restock("GAP", 3)  # v3
    w.flows.restock("GAP", 2)  # v4
    v1, v2, v3, v4 = stored_events(w.system, "inventory")
    aggregate = v1.aggregate_id
    recording, stock = RecordingProjection(), Stock()

    with projectors_running(w.settings, recording, stock):
        w.publisher.publish([v1, v3, v4, v3])  # v2 is late; v3 is delivered twice meanwhile
        wait_until_seen(w.settings, recording, 4)
        wait_until_seen(w.settings, stock, 4)
        with connect(w.settings) as conn, conn.cursor() as cursor:
            assert recorded(cursor, aggregate) == [1]
            assert positions.waiting(cursor, recording.name, aggregate) == [3, 4]
        assert restocked(w.settings, "GAP") == 0
        assert counts_of(w.settings, recording).parked == 2
        assert counts_of(w.settings, recording).duplicates_skipped == 1
        assert main(["projections", "status"]) == 0
        assert f"stock: {aggregate} waits for version 2; parked: 3, 4" in capsys.readouterr().out

        w.publisher.publish([v2])
        wait_until_seen(w.settings, recording, 5)
        wait_until_seen(w.settings, stock, 5)

    with connect(w.settings) as conn, conn.cursor() as cursor:
        assert recorded(cursor, aggregate) == [1, 2, 3, 4]
        assert positions.waiting(cursor, recording.name, aggregate) == []
        assert positions.last_applied(cursor, recording.name, aggregate) == 4
    assert restocked(w.settings, "GAP") == 10
    assert counts_of(w.settings, recording).applied == 4
