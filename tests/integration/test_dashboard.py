"""The live dashboard on a real system.

Its reads on PostgreSQL: every table reads as empty before its writer ran, then as what it
holds; a table of another shape makes its own section unavailable, not the page. Then the
page itself, in Debian's Chromium driven by Playwright, while `orders run` serves the whole
system: orders are placed through the API (one POST sent twice under one Idempotency-Key),
and once they have ended, the numbers the page shows must settle on what the API's own
endpoints and every process's /metrics say.
"""

import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, sync_playwright
from prometheus_client.parser import text_string_to_metric_families
from psycopg.types.json import Jsonb
from support.api import API_KEYS, WEBHOOK_SECRET
from support.isolation import on_free_ports, wait_until
from support.orders import OrderFlows, place_order
from support.running import ORDER_TIMEOUT_S

from domain.orders import TERMINAL, OrderStatus
from infrastructure.database import connect
from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.relay.leadership import CREATE_TABLE as RELAY_POSITIONS
from infrastructure.settings import Settings
from infrastructure.webhook_store import InMemoryWebhookStore
from projections import dead_letters, tables
from projections.incoming import Identity, Incoming
from projections.order_summary import OrderSummary
from services.api import ApiConfig, create_app
from services.api.dashboard import DeadLetters, Reconciliation
from services.api.schemas import EXAMPLE_ORDER
from services.bootstrap import System
from services.cli import run
from services.cli.demo import METRICS_PORTS, free_port_block
from services.ops.dashboard import ERROR_CHARS, PostgresTables
from services.ops.reconcile import runs as reconcile_runs

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def postgres_tables(settings: Settings) -> Iterator[PostgresTables]:
    readings = PostgresTables(settings)
    yield readings
    readings.close()


def dashboard_data(system: System, readings: PostgresTables) -> Any:
    config = ApiConfig(api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET)
    app = create_app(system, InMemoryIdempotencyStore(), InMemoryWebhookStore(), config, readings)
    return TestClient(app).get("/dashboard/data").json()


def test_each_table_reads_as_empty_before_its_writer_ran_and_then_as_what_it_holds(
    settings: Settings, system: System, postgres_tables: PostgresTables
) -> None:
    assert postgres_tables.orders_by_status() == {}
    assert postgres_tables.relay_positions() == {}
    assert postgres_tables.dead_letters(10) == DeadLetters(open=0, recent=[])
    assert postgres_tables.latest_reconciliation() is None
    assert postgres_tables.placements(300, 10) == [0] * 30

    OrderFlows(system).restock("SKU-1", 10)
    for _ in range(3):
        place_order(system)
    earlier, latest, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    tables.ensure(settings, OrderSummary())
    with connect(settings, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute(RELAY_POSITIONS)
        cursor.execute("INSERT INTO relay_positions VALUES ('orders', 2, 1, 'a relay', now())")
        for n, projection in enumerate(["stock", "order_summary"]):
            who, record = Identity(uuid.uuid4(), 1), Incoming(b"{", topic="t", partition=0, offset=n)
            dead_letters.add(cursor, projection, who, record, f"error {n} " + "x" * ERROR_CHARS)
        dead_letters.resolve(cursor, 1, dead_letters.DISCARDED)
        for statement in reconcile_runs.DDL:  # as `orders reconcile` makes it
            cursor.execute(statement)
        for run_id, hours_ago, by_kind in [(earlier, 1, {"payment": 5}), (latest, 0, {"shipment": 1})]:
            cursor.execute(
                "INSERT INTO reconciliation_runs VALUES"
                " (%(id)s, %(at)s - interval '1 minute', %(at)s, %(found)s, %(by_kind)s, 0)",
                {"id": run_id, "at": now - timedelta(hours=hours_ago), "found": 1, "by_kind": Jsonb(by_kind)},
            )

    placements = postgres_tables.placements(300, 10)
    assert (len(placements), sum(placements[-6:])) == (30, 3), placements
    letters = postgres_tables.dead_letters(10)
    assert letters.open == 1
    assert [(d.id, d.consumer, d.status) for d in letters.recent] == [
        (2, "order_summary", "open"),
        (1, "stock", "discarded"),
    ]
    assert len(letters.recent[0].error) == ERROR_CHARS
    assert postgres_tables.latest_reconciliation() == Reconciliation(
        run_id=str(latest),
        started_at=now - timedelta(minutes=1),
        finished_at=now,
        differences=1,
        by_kind={"shipment": 1},
        repaired=0,
    )

    data = dashboard_data(system, postgres_tables)
    assert data["unavailable"] == []
    assert {row["context"]: row["events"] for row in data["relay_lag"]} == {
        "orders": 3 - 2,  # three placements stored, two published
        "inventory": system.inventory.recorder.max_notification_id(),  # the restock's, none published
        "payments": 0,
        "fulfillment": 0,
    }
    assert data["orders"] == {"by_status": [{"status": s, "orders": 0} for s in OrderStatus], "total": 0}
    assert data["throughput"]["per_second"] == pytest.approx(3 / 60)


def test_a_table_of_another_shape_makes_its_section_unavailable_not_the_page(
    settings: Settings, system: System, postgres_tables: PostgresTables
) -> None:
    with connect(settings, autocommit=True) as conn:
        conn.execute("CREATE TABLE reconciliation_runs (run_id int, note text)")

    data = dashboard_data(system, postgres_tables)

    assert data["unavailable"] == ["reconciliation"]
    assert data["reconciliation"] is None
    assert data["dead_letters"] == {"open": 0, "recent": []}


# --- the page, in a browser, on the whole system ------------------------------------------------


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """On free ports, every child's metrics too, and the API told where they are, through the
    environment of `orders run` (which the `orders_run` fixture passes on to its children)."""
    settings = on_free_ports(settings)
    base = free_port_block(METRICS_PORTS, avoid=[settings.api_port, settings.psp_port, settings.carrier_port])
    settings = settings.replace(metrics_port=base)
    monkeypatch.setenv("ORDERS_METRICS_PORT", str(base))
    urls = " ".join(f"{name}={url}" for name, url in run.metrics_urls(settings).items())
    monkeypatch.setenv("ORDERS_METRICS_URLS", urls)
    return settings


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no browser: {CHROMIUM} is absent (apt-get install chromium)"
)
def test_the_page_settles_on_what_the_api_and_the_metrics_say(
    settings: Settings, orders_run: subprocess.Popen[bytes]
) -> None:
    url = f"http://127.0.0.1:{settings.api_port}"
    _tenant, api_key = settings.api_keys[0]
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    wait_until(lambda: ready(api), "the API to answer /readyz", timeout_s=60)
    with sync_playwright() as playwright:
        sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=sandbox)
        try:
            page = browser.new_page()
            page.goto(f"{url}/dashboard")
            order_ids = place_orders(api)
            statuses = Counter(ended(api, order_id) for order_id in order_ids)

            page_says, api_says = settled(page, lambda: expected(settings, statuses))
            assert page_says == api_says
            assert page_says["duplicates"]["http_replay"] >= 1, "the POST sent twice"
            assert "saga" in page_says["consumer lag"], "another process's metrics, added in"
            bars = page.get_by_test_id("throughput-chart").locator("rect title").all_text_contents()
            assert sum(int(text.split()[0]) for text in bars) == len(order_ids)
            assert page.get_by_test_id("connection").inner_text().startswith("Live")
        finally:
            browser.close()


def ready(api: httpx.Client) -> bool | None:
    try:
        return api.get("/readyz").status_code == 200 or None
    except httpx.TransportError:
        return None


def place_orders(api: httpx.Client) -> list[str]:
    """Two orders that complete and one declined, after a restock; one POST sent twice."""
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    post(api, f"/v1/inventory/{sku}/restock", {"quantity": 10})
    bodies = [order(sku, "tok_ok"), order(sku, "tok_ok"), order(sku, "tok_decline")]
    placed = [post(api, "/v1/orders", body) for body in bodies]
    again = post(api, "/v1/orders", bodies[0], key=placed[0].request.headers["Idempotency-Key"])
    assert (again.headers["idempotent-replayed"], again.content) == ("true", placed[0].content)
    return [answered.json()["order_id"] for answered in placed]


def post(api: httpx.Client, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    answered = api.post(path, json=body, headers={"Idempotency-Key": key or f"dashboard-{uuid.uuid4().hex}"})
    assert answered.status_code in (200, 201), answered.text
    return answered


def order(sku: str, token: str) -> dict[str, Any]:
    line = {"sku": sku, "quantity": 1, "unit_price_cents": 700}
    return EXAMPLE_ORDER | {"lines": [line], "payment": {"token": token}}


def ended(api: httpx.Client, order_id: str) -> str:
    def status() -> str | None:
        now: str = api.get(f"/v1/orders/{order_id}").json()["status"]
        return now if now in TERMINAL else None

    result: str = wait_until(status, f"order {order_id} to end", timeout_s=ORDER_TIMEOUT_S, every_s=0.2)
    return result


def expected(settings: Settings, statuses: Counter[str]) -> dict[str, Any]:
    """What the page should show now: the orders by status as the API answered them, the
    lags and each layer's duplicates as every process's /metrics says, added up, and the
    latest reconciliation run in the database, if any. A process being restarted answers no
    scrape, and the page shows it down."""
    scraped = {name: scrape(url) for name, url in run.metrics_urls(settings).items()}
    samples = [answered for answered in scraped.values() if answered is not None]
    return {
        "orders": {status: statuses.get(status, 0) for status in OrderStatus},
        "total": sum(statuses.values()),
        "duplicates": summed(samples, "orders_duplicates_absorbed_total", "layer"),
        "relay lag": summed(samples, "orders_relay_lag_events", "context"),
        "consumer lag": summed(samples, "orders_consumer_lag_records", "group"),
        "dead letters open": 0,
        "reconciliation": latest_run(settings),
        "processes": {name: "down" if answered is None else "up" for name, answered in scraped.items()},
    }


def shown(page: Page) -> dict[str, Any]:
    """What the page shows now, by the test ids of its numbers."""

    def number(testid: str) -> int:
        return int(page.get_by_test_id(testid).inner_text())

    def column(table: str) -> dict[str, int]:
        cells = page.get_by_test_id(table).locator("td[data-testid]")
        ids = [cells.nth(n).get_attribute("data-testid") or "" for n in range(cells.count())]
        return {testid.removeprefix(f"{table}-"): number(testid) for testid in ids}

    processes = page.get_by_test_id("processes").locator("[data-testid]")
    return {
        "orders": {status: number(f"orders-{status}") for status in OrderStatus},
        "total": number("orders-total"),
        "duplicates": column("duplicates"),
        "relay lag": column("relay-lag"),
        "consumer lag": column("consumer-lag"),
        "dead letters open": number("dead-letters-open"),
        "reconciliation": page.get_by_test_id("reconciliation").inner_text().split(",")[0],
        "processes": {
            (processes.nth(n).get_attribute("data-testid") or "").removeprefix("process-"): processes.nth(
                n
            ).inner_text()
            for n in range(processes.count())
        },
    }


def settled(
    page: Page, now_expected: Any, timeout_s: float = ORDER_TIMEOUT_S
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the page shows and what it should show, once they agree or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            page_says = shown(page)
        except ValueError:  # a number not shown yet ("unavailable", or before the first answer)
            page_says = {}
        api_says = now_expected()
        if page_says == api_says or time.monotonic() > deadline:
            return page_says, api_says
        time.sleep(0.5)


def scrape(url: str) -> list[tuple[str, dict[str, str], float]] | None:
    try:
        text = httpx.get(url, timeout=10).raise_for_status().text
    except httpx.HTTPError:
        return None
    return [
        (s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples
    ]


def summed(scrapes: list[list[tuple[str, dict[str, str], float]]], series: str, label: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for name, labels, value in (sample for samples in scrapes for sample in samples):
        if name == series:
            total[labels[label]] += int(value)
    return dict(total)


def latest_run(settings: Settings) -> str:
    """The page's first words on reconciliation: `never run`, or the latest run's id."""
    with connect(settings, autocommit=True) as conn:
        try:
            row = conn.execute(
                "SELECT run_id::text FROM reconciliation_runs ORDER BY finished_at DESC LIMIT 1"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            row = None
    return f"Run {row[0]}" if row else "never run"
