"""Failure scenarios S13 and S17 (docs/FAILURE-MODES.md): many writers at once on one
PostgreSQL server.

S13: buyers race for the last units of one SKU. Each buyer has an inventory application of
its own (its own connections and aggregate cache, as separate processes would), so the race
is decided where it is in production: by the event store's optimistic concurrency, and a
loser's retry against the fresh state.

S17: writers append to one notification log while a reader tails it the way the relay does,
reading after the last id it saw. A commit that becomes visible after a higher id was read
would be skipped for good. The run lasts ORDERS_S17_SECONDS (default 10; the plan's full
run is `ORDERS_S17_SECONDS=60 .venv/bin/pytest tests/integration/test_scenarios_concurrency.py
-k s17`), read here because it shapes this test only.

Verdicts are read with SQL from the event store and the command log.
"""

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from support.isolation import isolated_settings

from domain.errors import InsufficientStockError
from domain.inventory import ReserveStock, RestockSku
from infrastructure.database import ensure_schema
from infrastructure.settings import Settings
from services.application import Receipt
from services.contexts.inventory.service import InventoryService

pytestmark = pytest.mark.integration


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, str(default))
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3_600:
        raise pytest.UsageError(f"{name} must be a number of seconds between 0 and 3600, got {text!r}")
    return seconds


S17_SECONDS = _seconds("ORDERS_S17_SECONDS", 10.0)


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    """PostgreSQL only: nothing here publishes."""
    with isolated_settings(database_url) as settings:
        ensure_schema(settings)
        yield settings


@pytest.fixture
def inventories(settings: Settings) -> Iterator[Callable[[], InventoryService]]:
    """Makes inventory applications on `settings`, each with connections of its own; all are
    closed on the way out."""
    made: list[InventoryService] = []

    def make() -> InventoryService:
        made.append(InventoryService(env=settings.persistence_env()))
        return made[-1]

    yield make
    for app in made:
        app.close()


def rows(settings: Settings, query: str) -> list[tuple[Any, ...]]:
    assert settings.database_url
    with psycopg.connect(settings.database_url, options=f"-c search_path={settings.postgres_schema}") as conn:
        return conn.execute(query).fetchall()


def test_s13_twelve_buyers_racing_for_the_last_five_units_never_oversell_and_the_losers_are_refused(
    settings: Settings, inventories: Callable[[], InventoryService]
) -> None:
    units, buyers = 5, 12
    inventories().execute(RestockSku(command_id="restock", sku="LAST", quantity=units))
    apps = [inventories() for _ in range(buyers)]
    start = threading.Barrier(buyers)

    def buy(app: InventoryService) -> Receipt | Exception:
        command = ReserveStock(
            command_id=f"buy-{uuid.uuid4().hex}", order_id=uuid.uuid4(), lines=(("LAST", 1),)
        )
        start.wait()
        try:
            return app.execute(command)
        except Exception as error:  # the verdict below names any that is not a refusal by rule
            return error

    with ThreadPoolExecutor(buyers) as pool:
        outcomes = list(pool.map(buy, apps))

    errors = [o for o in outcomes if not isinstance(o, Receipt | InsufficientStockError)]
    assert not errors, f"a loser got something other than a business error: {errors!r}"

    # The stock item's history, in order: restocked, then reservations; never below zero.
    history = rows(settings, "SELECT topic, state FROM inventory_events ORDER BY originator_version")
    cipher = apps[0].mapper.cipher  # the events are stored encrypted when the settings name a key
    available, lowest, reserved = 0, 0, 0
    for topic, state in history:
        stored = bytes(state)
        quantity = json.loads(cipher.decrypt(stored) if cipher else stored).get("quantity", 0)
        if topic == "StockRestocked.v1":
            available += quantity
        elif topic == "StockReserved.v1":
            available, reserved = available - quantity, reserved + quantity
        lowest = min(lowest, available)
    assert lowest >= 0, f"I2 violated: oversold, {reserved} reserved of {units}, available fell to {lowest}"
    assert reserved == units, f"only {reserved} of the last {units} units were sold to {buyers} buyers"
    # Every buyer's answer is in the command log: a result or a refusal, never both, never lost.
    logged = rows(
        settings, "SELECT outcome->'error'->>'code' FROM inventory_commands WHERE command_id LIKE 'buy-%'"
    )
    refusals = ["insufficient_stock"] * (buyers - units)
    assert sorted(code or "" for (code,) in logged) == [""] * units + refusals
    assert sum(isinstance(o, Receipt) for o in outcomes) == units


def test_s17_a_reader_tailing_the_log_under_8_writers_sees_every_notification_id(
    settings: Settings, inventories: Callable[[], InventoryService]
) -> None:
    writers = 8
    apps = [inventories() for _ in range(writers)]
    log = inventories().recorder
    stop, stopped = threading.Event(), threading.Event()

    def write(app: InventoryService, sku: str) -> None:
        while not stop.is_set():
            app.execute(RestockSku(command_id=uuid.uuid4().hex, sku=sku, quantity=1))

    def tail() -> list[int]:
        """Read after the last id seen, as the relay does, until the writers have stopped and
        nothing is left."""
        seen: list[int] = []
        while True:
            finished = stopped.is_set()
            batch = log.select_notifications(start=(seen[-1] if seen else 0) + 1, limit=500)
            seen += [notification.id for notification in batch]
            if finished and not batch:
                return seen

    with ThreadPoolExecutor(writers + 1) as pool:
        reader = pool.submit(tail)
        writing = [pool.submit(write, app, f"S17-{index}") for index, app in enumerate(apps)]
        time.sleep(S17_SECONDS)  # the run's length is the scenario, not a wait for a condition
        stop.set()
        failed = [error for writer in writing if (error := writer.exception())]  # waits for each
        stopped.set()
        seen = reader.result()

    assert not failed, f"a writer failed: {failed!r}"

    stored = [n for (n,) in rows(settings, "SELECT notification_id FROM inventory_events ORDER BY 1")]
    skipped = sorted(set(stored) - set(seen))
    assert not skipped, (
        f"the reader skipped {len(skipped)} of {len(stored)} notification ids for good: {skipped[:20]}"
    )
    assert seen == stored, "the reader saw an id twice, or out of order"
    print(f"S17: {len(stored)} notifications by {writers} writers in {S17_SECONDS:g}s, none skipped")
