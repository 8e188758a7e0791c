"""The HTTP idempotency layer against the same endpoint without it (P6).

The API is the one `orders api` serves (`create_app`, its idempotency store in PostgreSQL),
run in this process under uvicorn on a free loopback port. Beside it, on the same app and
so behind the same middleware, one route is added for the benchmark: the restock endpoint
without the `Idempotency-Key` layer. It authenticates, reads the same body and executes
the same `RestockSku` through the inventory context (command log included, under a fresh
command id), and renders the same receipt; what it leaves out is exactly the layer: the
key's scope and fingerprint, the claim in the store before the command, the write rate
limit, and the response kept after it.

An asyncio client (httpx) keeps `concurrency` requests in flight, each worker restocking a
SKU of its own, so no two requests contend for one stock item. Every gated request has a
key of its own: a first execution, not a replay. The two variants take turns, half of
their requests at a time, so that a drift of the shared machine falls on both.
"""

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from bench.blocks.measure import POLL_S, Cpu, Run, figures, said, shares
from bench.blocks.waits import Waits, percent
from infrastructure.devstack import free_port
from infrastructure.idempotency_store import PostgresIdempotencyStore
from infrastructure.webhook_store import PostgresWebhookStore
from services.api import ApiConfig, create_app
from services.api.auth import tenant_of
from services.api.idempotency import KEY_HEADER
from services.api.request_ids import request_id
from services.api.schemas import RestockRequest, StockReceipt
from services.bootstrap import System
from services.cli.terminal import track

API_KEY, TENANT = "bench-key", "bench"
UNGATED = "/bench/inventory/{sku}/restock"
GATED = "/v1/inventory/{sku}/restock"
# Far above what this benchmark sends: the limit is taken per request, never reached.
NO_LIMIT = "1000000/second"
ROUNDS = 2
VARIANTS = {GATED: "P6 with the layer", UNGATED: "P6 without the layer"}
SKU_PREFIX = {GATED: "gated", UNGATED: "ungated"}


def measure(run: Run) -> None:
    """P6 with and without the layer; into `run.measurements`."""
    store = PostgresIdempotencyStore(run.settings)
    webhooks = PostgresWebhookStore(run.settings)
    config = ApiConfig(api_keys={API_KEY: TENANT}, psp_webhook_secret="bench", write_rate_limit=NO_LIMIT)
    app = create_app(run.system, store, webhooks, config)
    app.include_router(ungated(run.system, tenant_of(config.api_keys)))
    try:
        with serving(app) as base_url:
            results = asyncio.run(_both(run, base_url))
    finally:
        store.close()
        webhooks.close()
    run.measurements["p6_with_layer"], run.measurements["p6_without_layer"] = results[GATED], results[UNGATED]


def ungated(system: System, tenant: Callable[..., str]) -> APIRouter:
    """The restock endpoint as `services/api/routes.py` has it, without the idempotency layer."""
    api = APIRouter()

    @api.post(UNGATED)
    def restock(
        sku: str, body: RestockRequest, request: Request, tenant_id: Annotated[str, Depends(tenant)]
    ) -> Response:
        command = body.command(str(uuid.uuid4()), sku, tenant_id, correlation_id=request_id(request))
        receipt = system.inventory.execute(command)
        return Response(
            StockReceipt.model_validate(receipt.result).model_dump_json(), media_type="application/json"
        )

    return api


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn in a thread of this process; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="bench-api")
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(POLL_S)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


async def _both(run: Run, base_url: str) -> dict[str, dict[str, Any]]:
    """Each variant's figures, over its turns: seconds, latencies and CPU added up."""
    sizes = run.sizes
    share = sizes.requests // ROUNDS
    limits = httpx.Limits(max_connections=sizes.concurrency, max_keepalive_connections=sizes.concurrency)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    seconds = dict.fromkeys(VARIANTS, 0.0)
    latencies: dict[str, list[float]] = {route: [] for route in VARIANTS}
    cpu: dict[str, dict[str, float]] = {route: {} for route in VARIANTS}
    seen: dict[str, Counter[str]] = {route: Counter() for route in VARIANTS}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, headers=headers, timeout=60) as client:
        for route in VARIANTS:  # warm-up: connections, caches, plans
            await _send(client, route, sizes.concurrency, sizes.concurrency)
        total, answered = len(VARIANTS) * ROUNDS * share, 0

        with track("P6 HTTP, with and without the layer", total, "requests") as advance:

            def one_more() -> None:
                nonlocal answered
                answered += 1
                advance(answered, None)

            for _ in range(ROUNDS):
                for route in VARIANTS:
                    with Waits(run.database_url) as waits:
                        began, turn = time.perf_counter(), Cpu(run.pids)
                        latencies[route] += await _send(client, route, share, sizes.concurrency, one_more)
                        seconds[route] += time.perf_counter() - began
                        cpu[route] = {k: cpu[route].get(k, 0.0) + v for k, v in turn.spent().items()}
                    seen[route] += waits.seen
            results = {
                route: figures(
                    label,
                    ROUNDS * share,
                    seconds[route],
                    shares(cpu[route], seconds[route]),
                    latencies[route],
                    percent(seen[route]),
                )
                for route, label in VARIANTS.items()
            }
            advance(total, "\n".join(said(result) for result in results.values()))
    return results


async def _send(
    client: httpx.AsyncClient,
    route: str,
    count: int,
    concurrency: int,
    answered: Callable[[], None] | None = None,
) -> list[float]:
    """`count` restocks on `route` by `concurrency` workers, each on a SKU of its own; their
    latencies. `answered()`, if given, is called after each answer."""
    latencies: list[float] = []

    async def worker(number: int) -> None:
        path = route.format(sku=f"{SKU_PREFIX[route]}-{number}")
        for _ in range(number, count, concurrency):
            began = time.perf_counter()
            answer = await client.post(path, json={"quantity": 1}, headers={KEY_HEADER: uuid.uuid4().hex})
            if answer.status_code != 200:
                raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text}")
            latencies.append(time.perf_counter() - began)
            if answered is not None:
                answered()

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies
