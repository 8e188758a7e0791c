"""Every process of `orders run` serves its metrics, and each idempotence layer counts what it
absorbed where it absorbed it. Through the API, every POST is sent twice (the API replays the
second); an order's lost provider answer is asked again (the gateway counts an unknown outcome,
the provider simulator answers the repeat from its records); the provider sends each webhook
twice (the API takes the copy as a duplicate); and one record is put on its topic a second
time, as a broker may redeliver it, while the saga is paused, so that the saga (its commands
answered by the command log) and a projector (its version record) each absorb it."""

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
import pytest
from kafka.structs import TopicPartition
from support.isolation import on_free_ports, wait_until
from support.running import ORDER_TIMEOUT_S, answer

from domain.orders import OrderStatus
from infrastructure import kafka
from infrastructure.metrics import absorbed, scrape
from infrastructure.settings import Settings
from services.api.schemas import EXAMPLE_ORDER
from services.bootstrap import System
from services.cli import run
from services.cli.demo import METRICS_PORTS, free_port_block

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """On free ports, the children's metrics too (the `orders_run` fixture passes the
    environment on); a short gateway timeout, so that a lost answer is asked again soon."""
    settings = on_free_ports(settings)
    base = free_port_block(METRICS_PORTS, avoid=[settings.api_port, settings.psp_port, settings.carrier_port])
    monkeypatch.setenv("ORDERS_METRICS_PORT", str(base))
    return settings.replace(metrics_port=base, gateway_timeout_s=1.5)


def test_every_child_serves_its_metrics_and_each_layer_counts_its_duplicates(
    settings: Settings, system: System, orders_run: subprocess.Popen[bytes]
) -> None:
    urls = run.metrics_urls(settings)
    for name, url in urls.items():
        wait_until(lambda url=url: answer(url), f"{name} to serve its metrics", timeout_s=60)  # type: ignore[misc]
    _tenant, api_key = settings.api_keys[0]
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{settings.api_port}",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    post_twice(api, f"/v1/inventory/{sku}/restock", {"quantity": 10})
    with paused(child(orders_run, "saga")):
        redelivered = post_twice(api, "/v1/orders", order(sku, "tok_ok"))["order_id"]
        copy_the_placement(settings, redelivered)
    lost_answer = post_twice(api, "/v1/orders", order(sku, "tok_timeout_after_charge"))["order_id"]
    for order_id in (redelivered, lost_answer):
        assert ended(system, uuid.UUID(order_id)) is OrderStatus.COMPLETED

    api_metrics = scrape(urls["api"])
    assert absorbed(api_metrics, "http_replay") == 3
    assert api_metrics["orders_api_idempotency_total", (("outcome", "executed"),)] == 3
    wait_until(lambda: absorbed(scrape(urls["api"]), "webhook") or None, "a webhook's copy to be absorbed")
    wait_until(lambda: absorbed(scrape(urls["saga"]), "command_log") or None, "the saga's log to answer")
    assert absorbed(scrape(urls["saga"]), "consumer") == 1, "the placement's copy, and nothing else"
    wait_until(
        lambda: absorbed(scrape(urls["projector-order_summary"]), "consumer") or None,
        "a projector to skip the placement's copy",
    )
    gateway = scrape(urls["gateway"])
    assert gateway["orders_gateway_unknown_outcomes_total", (("context", "payments"),)] >= 1
    assert gateway["orders_gateway_retries_total", (("context", "payments"),)] >= 1
    assert absorbed(scrape(urls["psp-sim"]), "provider") >= 1

    saga = scrape(urls["saga"])
    assert saga["orders_saga_deadline_seconds", ()] == settings.saga_complete_within_s
    assert saga["orders_saga_in_flight_orders", ()] == 0
    assert ("orders_consumer_lag_records", (("group", "saga"),)) in saga
    assert ("orders_relay_lag_seconds", (("context", "orders"),)) in scrape(urls["relay"])
    said = (settings.devstack_dir / "run.out").read_text()
    assert f"metrics: psp-sim {urls['psp-sim']}" in said


def post_twice(api: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    """POST `body` twice under one key, as a client that lost the first answer would; the same
    answer both times, the second marked replayed."""
    key = {"Idempotency-Key": f"metrics-{uuid.uuid4().hex}"}
    first, second = api.post(path, json=body, headers=key), api.post(path, json=body, headers=key)
    assert first.status_code in (200, 201), first.text
    assert (second.status_code, second.content, second.headers["idempotent-replayed"]) == (
        first.status_code,
        first.content,
        "true",
    )
    return first.json()


def order(sku: str, token: str) -> dict[str, Any]:
    return EXAMPLE_ORDER | {
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": 500}],
        "payment": {"token": token},
    }


def child(orders_run: subprocess.Popen[bytes], name: str) -> psutil.Process:
    def found() -> psutil.Process | None:
        for process in psutil.Process(orders_run.pid).children():
            if process.cmdline()[-1:] == [name]:
                return process
        return None

    return wait_until(found, f"the {name} child")


@contextmanager
def paused(process: psutil.Process) -> Iterator[None]:
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def copy_the_placement(settings: Settings, order_id: str) -> None:
    """Put the order's OrderPlaced record on its partition again, as a broker may deliver it
    twice: once the relay has published it, while the saga has not read it yet."""
    topic = settings.topic("orders")
    reader = kafka.reader(settings, "metrics-test")
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)

        def placement() -> Any:
            for records in reader.poll(timeout_ms=500).values():
                for record in records:
                    data = json.loads(record.value)
                    if data["event_type"] == "OrderPlaced" and data["data"]["order_id"] == order_id:
                        return record
            return None

        record = wait_until(placement, "the relay to publish the placement")
    finally:
        reader.close()
    producer = kafka.producer(settings, "metrics-test")
    try:
        producer.send(
            topic, value=record.value, key=record.key, headers=record.headers, partition=record.partition
        ).get(timeout=10)
    finally:
        producer.close()


def ended(system: System, order_id: uuid.UUID) -> OrderStatus:
    def status() -> OrderStatus | None:
        order = system.orders.order(order_id)
        return order.status if order.is_terminal else None

    result: OrderStatus = wait_until(
        status, f"order {order_id} to end", timeout_s=ORDER_TIMEOUT_S, every_s=0.2
    )
    return result
