"""Poison events: dead-lettered in the batch's transaction, holding back only their own
aggregate, and released by `orders dlq retry` or `orders dlq discard`."""

from collections.abc import Iterator

import pytest
from support.isolation import environment, isolated_settings
from support.projecting import counts_of, projectors_running, wait_until_seen
from support.publishing import World, stored_events, world
from support.recording import RecordingProjection, recorded

from infrastructure.database import connect
from infrastructure.settings import Settings
from projections import dead_letters, positions
from projections.catalog import PROJECTIONS
from projections.stats import Counts
from projections.stock import Stock
from services.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(
    database_url: str, kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Isolated settings, also in the environment for the `orders dlq` commands run in-process."""
    with isolated_settings(database_url, kafka_bootstrap_servers) as settings:
        for variable, value in environment(settings).items():
            monkeypatch.setenv(variable, value)
        yield settings


@pytest.fixture
def w(settings: Settings) -> Iterator[World]:
    with world(settings) as w:
        yield w


def open_letters(settings: Settings, projection: str) -> list[dead_letters.DeadLetter]:
    with connect(settings) as conn, conn.cursor() as cursor:
        return dead_letters.listed(cursor, projection, include_resolved=False)


def restocked(settings: Settings, sku: str) -> int:
    with connect(settings) as conn:
        row = conn.execute("SELECT restocked FROM stock WHERE sku = %s", (sku,)).fetchone()
    return row[0] if row else 0


def test_an_event_that_fails_to_apply_holds_back_its_aggregate_until_retried(
    w: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w.flows.restock("SICK", 5)  # v1, v2
    w.flows.restock("SICK", 1)  # v3
    w.flows.restock("WELL", 5)
    events = stored_events(w.system, "inventory")
    sick = [event for event in events if event.data["sku"] == "SICK"]
    well = next(event.aggregate_id for event in events if event.data["sku"] == "WELL")
    recording = RecordingProjection()
    monkeypatch.setitem(PROJECTIONS, recording.name, recording)  # so that `orders dlq` finds it
    recording.failing = {sick[1].event_id}

    with projectors_running(w.settings, recording):
        w.publisher.publish_new()
        wait_until_seen(w.settings, recording, 5)

    with connect(w.settings) as conn, conn.cursor() as cursor:
        assert recorded(cursor, sick[0].aggregate_id) == [1]  # v2's half-done apply was rolled back
        assert positions.waiting(cursor, recording.name, sick[0].aggregate_id) == [3]
        assert recorded(cursor, well) == [1, 2]  # other aggregates carry on
    (letter,) = open_letters(w.settings, recording.name)
    assert (letter.aggregate_id, letter.version) == (sick[0].aggregate_id, 2)
    assert letter.error == f"PoisonError: cannot apply {sick[1].event_id}"
    assert counts_of(w.settings, recording) == Counts(applied=3, parked=1, dead_lettered=1)

    assert main(["dlq", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"#{letter.id} open" in listing
    assert "waiting behind it: versions 3" in listing

    assert main(["dlq", "retry", str(letter.id)]) == 1  # its cause is not fixed yet
    assert "still fails" in capsys.readouterr().err

    recording.failing.clear()
    assert main(["dlq", "retry", str(letter.id)]) == 0

    assert "2 applied" in capsys.readouterr().out
    with connect(w.settings) as conn, conn.cursor() as cursor:
        assert recorded(cursor, sick[0].aggregate_id) == [1, 2, 3]
        assert positions.waiting(cursor, recording.name, sick[0].aggregate_id) == []
    assert open_letters(w.settings, recording.name) == []


def test_a_malformed_record_holds_back_its_aggregate_until_discarded(
    w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w.flows.restock("BROKEN", 5)  # v1, v2
    w.flows.restock("FINE", 7)
    w.publisher.publish_new()
    broken = next(e.aggregate_id for e in stored_events(w.system, "inventory") if e.data["sku"] == "BROKEN")
    w.publisher.produce("inventory", b'{"event_type": "StockRestocked", "trunc', key=str(broken).encode())
    w.flows.restock("BROKEN", 4)  # v3: on the same partition, behind the malformed record
    w.flows.restock("FINE", 1)
    stock = Stock()

    with projectors_running(w.settings, stock):
        w.publisher.publish_new()
        wait_until_seen(w.settings, stock, 7)

    (letter,) = open_letters(w.settings, stock.name)
    assert (letter.aggregate_id, letter.version) == (broken, None)
    assert letter.error.startswith("JSONDecodeError")
    assert (restocked(w.settings, "BROKEN"), restocked(w.settings, "FINE")) == (5, 8)

    assert main(["dlq", "discard", str(letter.id)]) == 0

    assert "1 applied" in capsys.readouterr().out
    assert restocked(w.settings, "BROKEN") == 9
    assert open_letters(w.settings, stock.name) == []
    assert main(["dlq", "retry", str(letter.id)]) == 1
    assert f"dead letter {letter.id} was already discarded" in capsys.readouterr().err


def test_an_unknown_dead_letter_id_is_reported_in_one_line(
    w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "discard", "424242"]) == 1
    assert capsys.readouterr().err == (
        "orders dlq: error: no dead letter with id 424242 (see `orders dlq list --all`)\n"
    )
    assert main(["dlq", "list"]) == 0
    assert capsys.readouterr().out == "no open dead letters, no parked calls\n"
