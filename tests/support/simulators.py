"""The simulators served for real, on a free port in a thread of the test process, each with
its records in a schema of its own that is dropped afterwards."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI, Request, Response
from psycopg import sql

from infrastructure.devstack import free_port
from infrastructure.settings import Settings
from infrastructure.simulators import carrier, psp
from support.isolation import wait_until


@dataclass(frozen=True)
class Served:
    url: str
    posts: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Idempotency-Key), in order

    def get(self, path: str, **params: str) -> Any:
        return httpx.get(f"{self.url}{path}", params=params, timeout=10).raise_for_status().json()

    def charges(self, order_id: str, status: str = "approved") -> list[dict[str, Any]]:
        """The provider's ledger for one order: its operations with this status."""
        return [c for c in self.get("/charges", order_id=order_id)["charges"] if c["status"] == status]


@contextmanager
def psp_simulator(database_url: str, **settings: Any) -> Iterator[Served]:
    with (
        schema(database_url, "psp") as name,
        serving(psp.create_app(Settings(database_url=database_url, **settings), name)) as served,
    ):
        yield served


@contextmanager
def carrier_simulator(database_url: str) -> Iterator[Served]:
    with (
        schema(database_url, "carrier") as name,
        serving(carrier.create_app(Settings(database_url=database_url), name)) as served,
    ):
        yield served


@contextmanager
def serving(app: FastAPI) -> Iterator[Served]:
    """Serve `app` while the block runs, recording every POST it receives."""
    served = Served(f"http://127.0.0.1:{free_port()}")

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        if request.method == "POST":
            served.posts.append((request.url.path, request.headers.get("Idempotency-Key")))
        response: Response = await call_next(request)
        return response

    config = uvicorn.Config(app, port=int(served.url.rpartition(":")[2]), log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"simulator-{config.port}")
    thread.start()
    try:
        wait_until(
            lambda: True if server.started or not thread.is_alive() else None, "the simulator to start"
        )
        assert server.started, "the simulator did not start (see its log)"
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def schema(database_url: str, prefix: str) -> Iterator[str]:
    """A fresh schema name for one simulator's records; the schema is dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
