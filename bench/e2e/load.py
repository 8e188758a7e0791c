"""The customers: orders placed open-loop at a fixed rate through the HTTP API.

Open loop means the schedule never waits for an answer: order i is sent at start + i/rate
whatever happened to the ones before, as real customers arrive. A closed loop (send, wait,
send) would slow down with the system and hide its saturation. Each send is its own asyncio
task on a client without a connection limit, so a slow answer cannot hold back the next
send; a send that still starts late means the generator itself fell behind, and is counted.
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from infrastructure.settings import Settings
from services.ops.demo.scenario import ADDRESS

LATE_AFTER_S = 0.05  # a send starting later than this after its slot counts as late
TIMEOUT_S = 30.0
TICK_S = 10.0


@dataclass(frozen=True)
class Sent:
    """One placement as the client saw it: when it went out and how it was answered."""

    lateness_s: float  # how long after its slot it started
    status: int | None  # None: no answer (timeout or connection error)
    latency_s: float


@dataclass
class Load:
    """The send window (epoch seconds, the machine's clock) and the placements sent in it."""

    window_start: float = 0.0
    window_end: float = 0.0
    started: int = 0
    sent: list[Sent] = field(default_factory=list)  # the answered (or given up) ones


class Observer(Protocol):
    """Called at the window's edges (to sample CPU right there) and every TICK_S in between."""

    def opened(self, load: Load) -> None: ...

    def tick(self, load: Load) -> None: ...  # runs in a worker thread: it may block

    def closed(self, load: Load) -> None: ...


def body(sku: str) -> dict[str, Any]:
    """One line, instant approval (`tok_ok`), an address the carrier accepts."""
    return {
        "customer_id": "bench",
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": 1000}],
        "shipping_address": {
            "name": ADDRESS.name,
            "line1": ADDRESS.line1,
            "city": ADDRESS.city,
            "postal_code": ADDRESS.postal_code,
            "country": ADDRESS.country,
        },
        "payment": {"token": "tok_ok"},
    }


def offer(settings: Settings, skus: list[str], rate: float, duration_s: float, observer: Observer) -> Load:
    """Place rate x duration orders on schedule, then wait for every answer."""
    return asyncio.run(_offer(settings, skus, rate, duration_s, observer))


async def _offer(
    settings: Settings, skus: list[str], rate: float, duration_s: float, observer: Observer
) -> Load:
    _tenant, key = settings.api_keys[0]
    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.api_port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=TIMEOUT_S,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
    )
    load, tasks = Load(), []
    async with client:
        observer.opened(load)
        load.window_start, start = time.time(), time.monotonic()
        ticker = asyncio.create_task(_tick(observer, load))
        for i in range(round(rate * duration_s)):
            slot = start + i / rate
            await asyncio.sleep(max(0.0, slot - time.monotonic()))
            order_key = f"{settings.postgres_schema}:order:{i}"
            tasks.append(asyncio.create_task(_place(client, load, slot, order_key, skus[i % len(skus)])))
            load.started += 1
        await asyncio.sleep(max(0.0, start + duration_s - time.monotonic()))
        load.window_end = time.time()
        observer.closed(load)
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await asyncio.gather(*tasks)
    return load


async def _tick(observer: Observer, load: Load) -> None:
    while True:
        await asyncio.sleep(TICK_S)
        await asyncio.to_thread(observer.tick, load)


async def _place(client: httpx.AsyncClient, load: Load, slot: float, key: str, sku: str) -> None:
    started = time.monotonic()
    try:
        response = await client.post("/v1/orders", json=body(sku), headers={"Idempotency-Key": key})
        status: int | None = response.status_code
    except httpx.HTTPError:
        status = None
    load.sent.append(Sent(started - slot, status, time.monotonic() - started))
