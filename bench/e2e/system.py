"""The system under test: the servers, a schema and topic prefix of its own for each run, the
processes of `orders run`, and the few store reads that tell how far the orders got.

It composes what the CLI composes (`services.cli.run`, `services.cli.demo.isolated`) rather
than copying it, so the benchmark measures the system exactly as `orders run` starts it.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench.e2e.events import TERMINAL
from domain.orders import Order
from infrastructure.database import connect
from infrastructure.devstack import DevStack
from infrastructure.settings import Settings
from services.cli import demo, run
from services.ops.demo.runner import wait_until_ready


@dataclass(frozen=True)
class Servers:
    """PostgreSQL and the broker; their pids only when they are the dev stack's, on this machine."""

    settings: Settings
    postgres_pid: int | None
    broker_pid: int | None


def servers() -> Servers:
    """DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS when set, else the dev stack (started or reused)."""
    given = Settings.from_env()
    settings = run.servers(given)
    if given.database_url is not None:
        return Servers(settings, None, None)
    stack = DevStack(settings.devstack_dir)
    return Servers(settings, stack.postgres.pid, stack.broker.pid)


def isolated_env(servers: Servers) -> dict[str, str]:
    """The environment of one run: the demo's isolation (schema, topic prefix, free ports).

    The demo also shortens the gateway timeout so that its lost provider answers pass
    quickly; the benchmark sends none, and keeps the default `orders run` uses unless the
    caller's environment sets one."""
    env = {**os.environ, **demo.isolated(servers.settings, "e2e")}
    if "ORDERS_GATEWAY_TIMEOUT_S" not in os.environ:
        del env["ORDERS_GATEWAY_TIMEOUT_S"]
    return env


def ready(settings: Settings, say: Callable[[str], None]) -> None:
    """Return once the API answers /readyz with 200."""
    with demo.api_client(settings) as api:
        wait_until_ready(api, say)


def restock(settings: Settings, skus: list[str], quantity: int) -> None:
    """Give every SKU `quantity` units through the API, so no order fails for want of stock."""
    with demo.api_client(settings) as api:
        for sku in skus:
            key = f"{settings.postgres_schema}:restock:{sku}"
            answer = api.post(
                f"/v1/inventory/{sku}/restock", json={"quantity": quantity}, headers={"Idempotency-Key": key}
            )
            if answer.status_code >= 300:
                raise httpx.HTTPStatusError(
                    f"restock {sku}: {answer.text}", request=answer.request, response=answer
                )


@dataclass(frozen=True)
class Tally:
    """How far the orders got, as the orders context's store says."""

    placed: int
    completed: int
    terminal: int

    @property
    def in_flight(self) -> int:
        return self.placed - self.terminal


def tally(settings: Settings, events_table: str) -> Tally:
    """One cheap query: every order has one Placed event and at most one terminal event."""
    query = (
        f"SELECT count(*) FILTER (WHERE topic = %s), count(*) FILTER (WHERE topic = %s),"
        f" count(*) FILTER (WHERE topic = ANY(%s)) FROM {events_table}"
    )
    with connect(settings) as conn:
        row = conn.execute(query, (Order.Placed.TOPIC, Order.Completed.TOPIC, list(TERMINAL))).fetchone()
    return Tally(*row) if row else Tally(0, 0, 0)
