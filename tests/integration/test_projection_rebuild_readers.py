"""A rebuild swaps the read model in whole: a reader querying it all the while sees the old
model or the new one, and nothing else - no error, no half-built table, no wait for the
rebuild to finish.

The live model is made to differ from a fresh fold (a row changed behind the system's back),
so that the two are told apart; the event store is read slowly, a page at a time, so that the
reader's queries overlap the rebuild.
"""

import threading
import time
import uuid
from typing import Any

import pytest
from support.publishing import applications

from domain.inventory import RestockSku
from infrastructure.database import connect
from infrastructure.settings import Settings
from projections import sources
from projections.rebuild import rebuild_from_events
from projections.stock import Stock
from services.bootstrap import System

pytestmark = pytest.mark.integration

TOTALS = "SELECT count(*), sum(available), sum(restocked) FROM stock"


class SlowLog:
    """A context's notification log that takes a while over every page."""

    def __init__(self, app: Any, pause_s: float) -> None:
        self.app, self.pause_s = app, pause_s

    @property
    def mapper(self) -> Any:
        return self.app.mapper

    @property
    def recorder(self) -> Any:
        return self

    def select_notifications(self, start: int, limit: int) -> Any:
        time.sleep(self.pause_s)
        return self.app.recorder.select_notifications(start, limit)


class Reader:
    """Queries the stock totals in a loop on a connection of its own, as a screen would: each
    query in a transaction of its own, given up after a second."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seen: list[tuple[Any, ...]] = []
        self.errors: list[Exception] = []
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="read-model-reader")

    def __enter__(self) -> "Reader":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with connect(self.settings, autocommit=True) as conn:
            conn.execute("SET statement_timeout = '1s'")
            while not self.stop.is_set():
                try:
                    row = conn.execute(TOTALS).fetchone()
                except Exception as error:
                    self.errors.append(error)
                    return
                assert row is not None
                self.seen.append(tuple(row))
                time.sleep(0.005)


def test_a_reader_sees_the_old_or_the_new_read_model_during_a_rebuild_and_nothing_else(
    settings: Settings, system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(60):
        restock = RestockSku(command_id=str(uuid.uuid4()), sku=f"SKU-{i % 20}", quantity=i + 1)
        system.inventory.execute(restock)
    stock, logs = Stock(), applications(system)
    rebuild_from_events(settings, stock, logs)
    with connect(settings) as conn:
        new = conn.execute(TOTALS).fetchone()
        conn.execute("UPDATE stock SET available = available + 1, restocked = restocked + 1")
        old = conn.execute(TOTALS).fetchone()
    monkeypatch.setattr(sources, "PAGE_SIZE", 4)  # 80 events: 20 pages of 4, 21 reads of 0.1 s
    slow = {context: SlowLog(app, pause_s=0.1) for context, app in logs.items()}

    with Reader(settings) as reader:
        time.sleep(0.2)
        rebuild_from_events(settings, stock, slow)
        time.sleep(0.2)

    assert reader.errors == []  # no query waited for the rebuild (a second at most), none failed
    seen = [row for i, row in enumerate(reader.seen) if i == 0 or row != reader.seen[i - 1]]
    assert seen == [old, new]  # the old model until the swap, then the new one: never between
