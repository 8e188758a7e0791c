"""The live dashboard's data, in memory: what it says without a database, how it counts a
replayed POST, and the other processes' metrics added to the API's own, served by real HTTP
servers - two with counters, one that refuses connections, three that never answer, and one
that answers with something other than metrics. Its reads on PostgreSQL and the page in a
browser are tests/integration/test_dashboard.py's."""

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import start_http_server
from support.api import API_KEYS, WEBHOOK_SECRET, headers, key

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.metrics import LAYERS, Metrics
from infrastructure.settings import Settings, SettingsError
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.api.dashboard import MAX_AGE_S
from services.bootstrap import System
from services.cli.api import config

TABLE_SECTIONS = ["orders", "throughput", "relay_lag", "dead_letters", "reconciliation"]


def client(system: System, metrics_urls: tuple[tuple[str, str], ...] = ()) -> TestClient:
    settings = ApiConfig(api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET, metrics_urls=metrics_urls)
    return TestClient(create_app(system, InMemoryIdempotencyStore(), InMemoryWebhookStore(), settings))


def test_in_memory_every_section_that_needs_the_database_says_so(system: System) -> None:
    data = client(system).get("/dashboard/data").json()

    assert data["unavailable"] == TABLE_SECTIONS
    assert [data[section] for section in ("orders", "throughput", "dead_letters", "reconciliation")] == [
        None
    ] * 4
    assert (data["relay_lag"], data["consumer_lag"]) == ([], [])
    assert data["duplicates"] == [{"layer": layer, "absorbed": 0} for layer in LAYERS]
    assert data["processes"] == [{"name": "api", "up": True}]


def test_the_page_loads_only_its_own_script_and_style_and_needs_no_key(system: System) -> None:
    api = client(system)
    page = api.get("/dashboard")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="(/dashboard/[^"]+)"', page.text)
    assert sorted(assets) == ["/dashboard/dashboard.css", "/dashboard/dashboard.js"]
    for asset in assets:
        assert api.get(asset).status_code == 200, asset
    assert "/dashboard/data" in api.get("/openapi.json").json()["paths"]


def test_a_replayed_post_shows_as_a_duplicate_once_the_snapshot_is_a_second_old(system: System) -> None:
    api = client(system)
    before = api.get("/dashboard/data").json()
    restock = {"json": {"quantity": 5}, "headers": headers(key())}
    assert api.post("/v1/inventory/SKU-1/restock", **restock).status_code == 200
    assert api.post("/v1/inventory/SKU-1/restock", **restock).headers["idempotent-replayed"] == "true"

    assert api.get("/dashboard/data").json() == before, "one snapshot answers for a second"
    time.sleep(MAX_AGE_S)
    assert absorbed(api.get("/dashboard/data").json())["http_replay"] == 1


def test_the_other_processes_metrics_are_added_to_the_api_s_and_a_silent_one_is_down(system: System) -> None:
    saga, projector = Metrics(), Metrics()
    saga.duplicates.labels(layer="consumer").inc(3)
    saga.consumer_lag.labels(group="saga").set(7)
    projector.duplicates.labels(layer="consumer").inc(2)
    projector.consumer_lag.labels(group="projection-stock").set(1)
    system.metrics.duplicates.labels(layer="consumer").inc()  # the API's own
    overlap = Overlap()
    with (
        serving_metrics(saga) as saga_url,
        serving_metrics(projector) as projector_url,
        refusing() as refused_url,
        silent(overlap) as gateway_url,
        silent(overlap) as saga_2_url,
        silent(overlap) as saga_3_url,
        serving(b"<html>not metrics</html>") as html_url,
    ):
        peers = {
            "saga": saga_url,
            "projector-stock": projector_url,
            "relay": refused_url,
            "psp-sim": html_url,
        }
        peers |= {"gateway": gateway_url, "saga-2": saga_2_url, "saga-3": saga_3_url}
        data = client(system, tuple(peers.items())).get("/dashboard/data").json()

    assert {p["name"]: p["up"] for p in data["processes"]} == {
        "api": True,
        "saga": True,
        "projector-stock": True,
        "relay": False,
        "psp-sim": False,
        "gateway": False,
        "saga-2": False,
        "saga-3": False,
    }
    assert absorbed(data)["consumer"] == 1 + 3 + 2
    assert data["consumer_lag"] == [
        {"group": "projection-stock", "records": 1},
        {"group": "saga", "records": 7},
    ]
    assert overlap.most == 3, "the silent peers are waited for at once, not one after the other"


def test_orders_metrics_urls_are_name_url_pairs_and_the_api_leaves_itself_out() -> None:
    written = "api=http://127.0.0.1:8000/metrics saga=http://127.0.0.1:9104/metrics"
    settings = Settings.from_env({"ORDERS_METRICS_URLS": written})
    assert settings.metrics_urls == (
        ("api", "http://127.0.0.1:8000/metrics"),
        ("saga", "http://127.0.0.1:9104/metrics"),
    )
    assert config(settings).metrics_urls == (("saga", "http://127.0.0.1:9104/metrics"),)
    for wrong, said in [
        ("saga", "pair 1 is not"),
        ("saga=http://a/m relay=ftp://b/m", "pair 2 is not"),
        ("saga=http://a/m saga=http://b/m", "names one process twice"),
    ]:
        with pytest.raises(SettingsError, match=f"ORDERS_METRICS_URLS .*{said}"):
            Settings.from_env({"ORDERS_METRICS_URLS": wrong})


def absorbed(data: dict[str, Any]) -> dict[str, int]:
    return {row["layer"]: row["absorbed"] for row in data["duplicates"]}


@contextmanager
def serving_metrics(metrics: Metrics) -> Iterator[str]:
    """`metrics` served as a process other than the API serves its own."""
    server, thread = start_http_server(0, "127.0.0.1", metrics.registry)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serving(body: bytes) -> Iterator[str]:
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def refusing() -> Iterator[str]:
    """A port nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}/metrics"


class Overlap:
    """How many connections to the silent peers were open at once, at most: asked one after
    the other, each is closed (timed out) before the next is opened."""

    def __init__(self) -> None:
        self.open = self.most = 0
        self.lock = threading.Lock()

    def hold(self, connection: socket.socket) -> None:
        with self.lock:
            self.open += 1
            self.most = max(self.most, self.open)
        with connection:
            while connection.recv(4096):  # until the client gives up and closes it
                pass
        with self.lock:
            self.open -= 1


@contextmanager
def silent(overlap: Overlap) -> Iterator[str]:
    """A port that takes connections and never answers, holding each until the client closes it."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)

        def accept() -> None:
            with contextlib.suppress(OSError):  # the listening socket closed: the test is over
                while True:
                    connection, _ = listening.accept()
                    threading.Thread(target=overlap.hold, args=(connection,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        yield f"http://127.0.0.1:{listening.getsockname()[1]}/metrics"
